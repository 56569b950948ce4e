package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
)

// TestKafkaACLsOnRealBroker runs the compose file's Kafka as compose would,
// on loopback, and proves what its ACLs allow and refuse:
//   - the broker's server.properties are made from the kafka service's
//     environment and kafka.env.example by the apache/kafka image's own
//     entrypoint class (kafka.docker.KafkaDockerWrapper, of the same
//     release as the image), only the addresses moved to free loopback
//     ports;
//   - kafka-init.sh runs with the kafka-init service's environment and the
//     placeholders of its env files, through Kafka's own command-line tools;
//   - then, as the pipeline and the frontends log in (their --kafka-user,
//     the STRATUS_KAFKA_PASSWORD of stream.env.example and
//     frontend.env.example, with kafka-go as Stratus does), every write and
//     read of every topic, and offset commits of the pipeline's groups and
//     of another, either succeed or are refused as issue 13 wants: only the
//     pipeline writes answers, samples and dead letters, only the frontends
//     read answers, and a forged answer never reaches the topic.
//
// It needs Java 17+ and Kafka's jars in STRATUS_KAFKA_LIB (`deploy/check.sh
// kafka` resolves them as deploy/local does, and sets it); without it, it
// skips.
func TestKafkaACLsOnRealBroker(t *testing.T) {
	lib := os.Getenv("STRATUS_KAFKA_LIB")
	if lib == "" {
		t.Skip("needs Kafka's jars in STRATUS_KAFKA_LIB (deploy/check.sh kafka sets it)")
	}
	p, err := LoadCompose(context.Background(), "compose.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, version, _ := strings.Cut(p.Services["kafka"].Image, ":")
	if _, err := os.Stat(filepath.Join(lib, "kafka_2.13-"+version+".jar")); err != nil {
		t.Fatalf("STRATUS_KAFKA_LIB has no kafka_2.13-%s.jar, the release of the compose file's image %s: %v", version, p.Services["kafka"].Image, err)
	}
	java := "java"
	if h := os.Getenv("JAVA_HOME"); h != "" {
		java = filepath.Join(h, "bin", "java")
	}
	dir := t.TempDir()
	ports := freePorts(t, 3)
	client, controller, broker := ports[0], ports[1], ports[2]

	// The broker, configured as the image configures it.
	env := map[string]string{}
	for k, v := range p.Services["kafka"].Environment {
		if v != nil {
			env[k] = *v
		}
	}
	kafkaEnv, err := ReadEnvFile("kafka.env.example")
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range kafkaEnv {
		env[k] = v
	}
	for k, want := range map[string]string{"KAFKA_LISTENERS": "CLIENT://:9092,CONTROLLER://:9093,BROKER://:9094", "KAFKA_ADVERTISED_LISTENERS": "CLIENT://kafka:9092,BROKER://kafka:9094", "KAFKA_CONTROLLER_QUORUM_VOTERS": "1@kafka:9093"} {
		if env[k] != want {
			t.Fatalf("kafka: %s=%q; this test moves %q to loopback ports (update it with the compose file)", k, env[k], want)
		}
	}
	env["KAFKA_LISTENERS"] = fmt.Sprintf("CLIENT://127.0.0.1:%d,CONTROLLER://127.0.0.1:%d,BROKER://127.0.0.1:%d", client, controller, broker)
	env["KAFKA_ADVERTISED_LISTENERS"] = fmt.Sprintf("CLIENT://127.0.0.1:%d,BROKER://127.0.0.1:%d", client, broker)
	env["KAFKA_CONTROLLER_QUORUM_VOTERS"] = fmt.Sprintf("1@127.0.0.1:%d", controller)
	env["KAFKA_LOG_DIRS"] = filepath.Join(dir, "data")
	env["CLUSTER_ID"] = "MkU3OEVBNTcwNTJENDM2Qg"
	cfg := filepath.Join(dir, "config")
	for _, d := range []string{"default", "mounted", "final"} {
		if err := os.MkdirAll(filepath.Join(cfg, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"server.properties", "log4j2.yaml", "tools-log4j2.yaml"} {
		if err := os.WriteFile(filepath.Join(cfg, "default", f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	classpath := filepath.Join(lib, "*")
	run(t, environ(env), java, "-cp", classpath, "kafka.docker.KafkaDockerWrapper", "setup",
		"--default-configs-dir", filepath.Join(cfg, "default"), "--mounted-configs-dir", filepath.Join(cfg, "mounted"),
		"--final-configs-dir", filepath.Join(cfg, "final"))
	props, err := os.ReadFile(filepath.Join(cfg, "final", "server.properties"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"authorizer.class.name=" + StandardAuthorizer, "allow.everyone.if.no.acl.found=false", "super.users=User:admin", "listener.name.client.scram-sha-512.sasl.jaas.config="} {
		if !strings.Contains(string(props), want) {
			t.Errorf("server.properties made by the image's entrypoint lacks %q", want)
		}
	}
	logFile, err := os.Create(filepath.Join(dir, "kafka.log"))
	if err != nil {
		t.Fatal(err)
	}
	srv := exec.Command(java, "-Xmx512m", "-XX:+UseSerialGC", "-cp", classpath, "kafka.Kafka", filepath.Join(cfg, "final", "server.properties"))
	srv.Stdout, srv.Stderr = logFile, logFile
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = srv.Process.Kill()
		_ = srv.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(logFile.Name())
			t.Logf("kafka.log (tail):\n%s", tail(string(b), 4000))
		}
	})

	adminJAAS := kafkaEnv["KAFKA_LISTENER_NAME_BROKER_PLAIN_SASL_JAAS_CONFIG"]
	adminPW := jaasOption(adminJAAS, "password")
	admin := &kafka.Client{Addr: kafka.TCP(fmt.Sprintf("127.0.0.1:%d", broker)), Timeout: 10 * time.Second,
		Transport: &kafka.Transport{SASL: plain.Mechanism{Username: "admin", Password: adminPW}}}
	waitFor(t, 90*time.Second, func() error {
		_, err := admin.Metadata(context.Background(), &kafka.MetadataRequest{})
		return err
	})

	// kafka-init.sh, as the kafka-init service runs it.
	bin := filepath.Join(dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, class := range map[string]string{
		"kafka-topics.sh":  "org.apache.kafka.tools.TopicCommand",
		"kafka-configs.sh": "kafka.admin.ConfigCommand",
		"kafka-acls.sh":    "org.apache.kafka.tools.AclCommand",
	} {
		script := fmt.Sprintf("#!/bin/sh\nexec %q -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -cp %q %s \"$@\"\n", java, classpath, class)
		if err := os.WriteFile(filepath.Join(bin, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	initEnv := map[string]string{}
	for k, v := range p.Services["kafka-init"].Environment {
		if v != nil {
			initEnv[k] = *v
		}
	}
	for _, f := range []string{"kafka.env.example", "kafka-users.env.example"} {
		m, err := ReadEnvFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range m {
			initEnv[k] = v
		}
	}
	initEnv["KAFKA_ADMIN_BOOTSTRAP"] = fmt.Sprintf("127.0.0.1:%d", broker)
	initEnv["KAFKA_BIN"] = bin
	out := run(t, environ(initEnv), "bash", "kafka-init.sh")
	t.Logf("kafka-init.sh:\n%s", tail(out, 3000))

	// The principals, as the services log in.
	login := func(service, envFile string) (string, string) {
		user, _ := flagValue(p.Services[service].Command, "--kafka-user")
		m, err := ReadEnvFile(envFile)
		if err != nil {
			t.Fatal(err)
		}
		return user, m["STRATUS_KAFKA_PASSWORD"]
	}
	pipeUser, pipePW := login("stream", "stream.env.example")
	frontUser, frontPW := login("frontend-1", "frontend.env.example")
	addr := fmt.Sprintf("127.0.0.1:%d", client)
	transport := func(user, pw string) *kafka.Transport {
		m, err := scram.Mechanism(scram.SHA512, user, pw)
		if err != nil {
			t.Fatal(err)
		}
		return &kafka.Transport{SASL: m, DialTimeout: 5 * time.Second}
	}
	as := map[string]*kafka.Transport{pipeUser: transport(pipeUser, pipePW), frontUser: transport(frontUser, frontPW)}
	topics := []string{topicCanvas, topicPredictions, topicSamples, topicDeadLetter}
	writers := map[string]string{topicCanvas: frontUser, topicPredictions: pipeUser, topicSamples: pipeUser, topicDeadLetter: pipeUser}
	readers := map[string]string{topicCanvas: pipeUser, topicPredictions: frontUser, topicSamples: pipeUser}

	// Writes: every principal to every topic, partition 0.
	type result struct {
		what string
		err  error
	}
	var mu sync.Mutex
	var results []result
	var wg sync.WaitGroup
	for _, user := range []string{pipeUser, frontUser} {
		for _, topic := range topics {
			wg.Add(1)
			go func() {
				defer wg.Done()
				w := &kafka.Writer{Addr: kafka.TCP(addr), Topic: topic, Transport: as[user], MaxAttempts: 1, RequiredAcks: kafka.RequireAll,
					Balancer: kafka.BalancerFunc(func(_ kafka.Message, parts ...int) int { return 0 }), WriteTimeout: 10 * time.Second}
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				err := w.WriteMessages(ctx, kafka.Message{Value: []byte("probe from " + user)})
				_ = w.Close()
				mu.Lock()
				results = append(results, result{fmt.Sprintf("User:%s writes %s", user, topic), err})
				mu.Unlock()
				if want := writers[topic] == user; want != (err == nil) {
					t.Errorf("User:%s writes %s: allowed %v, want %v (err: %v)", user, topic, err == nil, want, err)
				}
			}()
		}
	}
	wg.Wait()

	// Reads: every principal from every topic, by partition (as the
	// frontends read their reply partition); what each topic holds.
	for _, user := range []string{pipeUser, frontUser} {
		for _, topic := range topics {
			_, err := fetchAll(&kafka.Client{Addr: kafka.TCP(addr), Timeout: 10 * time.Second, Transport: as[user]}, topic)
			results = append(results, result{fmt.Sprintf("User:%s reads %s", user, topic), err})
			if want := readers[topic] == user; want != (err == nil) {
				t.Errorf("User:%s reads %s: allowed %v, want %v (err: %v)", user, topic, err == nil, want, err)
			}
		}
	}
	for _, topic := range topics {
		values, err := fetchAll(admin, topic)
		if err != nil {
			t.Fatalf("admin reads %s: %v", topic, err)
		}
		if want := []string{"probe from " + writers[topic]}; strings.Join(values, "|") != strings.Join(want, "|") {
			t.Errorf("%s holds %q, want only %q: a write that should have been refused got through", topic, values, want)
		}
	}

	// Offsets: the pipeline commits and fetches its groups' offsets (as a
	// standalone consumer, like kafkaio); nobody else's group, and the
	// frontends none.
	groupOf := map[string]string{"stratus-stream": topicCanvas, "stratus-stream-store": topicSamples, "someone-else": topicCanvas}
	for _, user := range []string{pipeUser, frontUser} {
		for _, group := range sortedKeys(groupOf) {
			c := &kafka.Client{Addr: kafka.TCP(addr), Timeout: 10 * time.Second, Transport: as[user]}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			err := commit(ctx, c, group, groupOf[group])
			cancel()
			results = append(results, result{fmt.Sprintf("User:%s commits group %s", user, group), err})
			if want := user == pipeUser && group != "someone-else"; want != (err == nil) {
				t.Errorf("User:%s commits offsets of group %s on %s: allowed %v, want %v (err: %v)", user, group, groupOf[group], err == nil, want, err)
			}
		}
	}

	// Someone without a login of their own gets nothing.
	w := &kafka.Writer{Addr: kafka.TCP(addr), Topic: topicPredictions, Transport: transport(frontUser, "guessed"), MaxAttempts: 1, WriteTimeout: 5 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	err = w.WriteMessages(ctx, kafka.Message{Value: []byte("forged")})
	cancel()
	_ = w.Close()
	results = append(results, result{"wrong password writes " + topicPredictions, err})
	if err == nil {
		t.Error("a wrong password wrote to stratus.predictions")
	}
	sort.Slice(results, func(i, j int) bool { return results[i].what < results[j].what })
	for _, r := range results {
		verdict := "allowed"
		if r.err != nil {
			verdict = "refused: " + firstLine(r.err.Error())
		}
		t.Logf("%-60s %s", r.what, verdict)
	}
}

// fetchAll reads the values of partition 0 of topic from its start.
func fetchAll(c *kafka.Client, topic string) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := c.Fetch(ctx, &kafka.FetchRequest{Topic: topic, Partition: 0, Offset: kafka.FirstOffset, MinBytes: 1, MaxBytes: 1 << 20, MaxWait: 500 * time.Millisecond})
	if err != nil {
		return nil, err
	}
	if res.Error != nil {
		return nil, res.Error
	}
	var out []string
	for {
		r, err := res.Records.ReadRecord()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		b, _ := io.ReadAll(r.Value)
		out = append(out, string(b))
	}
}

// commit commits offset 0 of partition 0 of topic for group, then fetches
// it back, as kafkaio does (generation -1: no group membership), retrying
// while the group coordinator starts (the first group request of a fresh
// broker creates __consumer_offsets), as kafkaio does too.
func commit(ctx context.Context, c *kafka.Client, group, topic string) error {
	for {
		err := commitOnce(ctx, c, group, topic)
		if !errors.Is(err, kafka.NotCoordinatorForGroup) && !errors.Is(err, kafka.GroupCoordinatorNotAvailable) && !errors.Is(err, kafka.GroupLoadInProgress) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func commitOnce(ctx context.Context, c *kafka.Client, group, topic string) error {
	res, err := c.OffsetCommit(ctx, &kafka.OffsetCommitRequest{GroupID: group, GenerationID: -1,
		Topics: map[string][]kafka.OffsetCommit{topic: {{Partition: 0, Offset: 0}}}})
	if err != nil {
		return err
	}
	for _, p := range res.Topics[topic] {
		if p.Error != nil {
			return p.Error
		}
	}
	got, err := c.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: {0}}})
	if err != nil {
		return err
	}
	if got.Error != nil {
		return got.Error
	}
	for _, p := range got.Topics[topic] {
		if p.Error != nil {
			return p.Error
		}
	}
	return nil
}

// jaasOption is option name's quoted value in a JAAS configuration.
func jaasOption(jaas, name string) string {
	_, rest, ok := strings.Cut(jaas, " "+name+`="`)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, `"`)
	return v
}

// freePorts reserves n free loopback ports (released before returning).
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var out []int
	var ls []net.Listener
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		_ = l.Close()
	}
	return out
}

// environ is a process environment of m plus PATH and JAVA_HOME (nothing
// else of this process's).
func environ(m map[string]string) []string {
	out := []string{"PATH=" + os.Getenv("PATH")}
	if h := os.Getenv("JAVA_HOME"); h != "" {
		out = append(out, "JAVA_HOME="+h)
	}
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	return out
}

// run runs a command with env, failing the test with its output if it fails.
func run(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = env
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, tail(string(b), 4000))
	}
	return string(b)
}

// waitFor retries f until it succeeds or d passes.
func waitFor(t *testing.T, d time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready after %v: %v", d, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
