package k8s

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

var (
	validatorOnce sync.Once
	validator     *Validator
	validatorErr  error
)

// theValidator loads the CRDs once for all tests.
func theValidator(t *testing.T) *Validator {
	t.Helper()
	validatorOnce.Do(func() { validator, validatorErr = NewValidator(filepath.Join("testdata", "crds")) })
	if validatorErr != nil {
		t.Fatal(validatorErr)
	}
	return validator
}

// copyTree copies base/ and overlays/ into a temporary folder and turns each
// committed secrets/*.env.example into the secrets/*.env the overlay's
// secretGenerator reads (the real ones are never committed), then applies
// edits (path relative to the copy → function of the file's content).
func copyTree(t *testing.T, edits map[string]func(string) string) string {
	t.Helper()
	dst := t.TempDir()
	for _, top := range []string{"base", "overlays"} {
		err := filepath.WalkDir(top, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			target := filepath.Join(dst, p)
			if d.IsDir() {
				return os.MkdirAll(target, 0o755)
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if strings.HasSuffix(p, ".env") {
				return nil // a developer's real secrets: not ours to read
			}
			if err := os.WriteFile(target, b, 0o644); err != nil {
				return err
			}
			if real, ok := strings.CutSuffix(target, ".env.example"); ok && filepath.Base(filepath.Dir(p)) == "secrets" {
				return os.WriteFile(real+".env", b, 0o600)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for p, edit := range edits {
		full := filepath.Join(dst, p)
		b, err := os.ReadFile(full)
		if err != nil {
			t.Fatalf("edit %s: %v", p, err)
		}
		out := edit(string(b))
		if out == string(b) {
			t.Fatalf("edit %s changed nothing (test bug)", p)
		}
		if err := os.WriteFile(full, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// overlays are the folders under overlays/.
func overlays(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir("overlays")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	if len(out) < 2 {
		t.Fatalf("want overlays dev and prod at least, got %v", out)
	}
	return out
}

// TestOverlays builds every overlay, decodes every object strictly, validates
// the custom resources against their CRDs and checks the references.
func TestOverlays(t *testing.T) {
	v := theValidator(t)
	root := copyTree(t, nil)
	for _, name := range overlays(t) {
		t.Run(name, func(t *testing.T) {
			objs, err := v.BuildAndDecode(filepath.Join(root, "overlays", name))
			if err != nil {
				t.Fatalf("overlay %s:\n%v", name, err)
			}
			if err := CheckReferences(objs); err != nil {
				t.Fatalf("overlay %s:\n%v", name, err)
			}
			kinds := map[string]int{}
			for _, o := range objs {
				kinds[o.GVK.Kind]++
			}
			for _, k := range []string{"Deployment", "StatefulSet", "Service", "Ingress", "HorizontalPodAutoscaler",
				"PodDisruptionBudget", "Secret", "NetworkPolicy", "Kafka", "KafkaNodePool", "KafkaTopic", "KafkaUser", "FlinkDeployment"} {
				if kinds[k] == 0 {
					t.Errorf("overlay %s builds no %s", name, k)
				}
			}
			checkSecret(t, objs)
			t.Logf("overlay %s: %d objects %v", name, len(objs), kinds)
		})
	}
}

// checkSecret: the generated stratus-couchdb Secret's STRATUS_COUCHDB holds
// the same credentials CouchDB is given.
func checkSecret(t *testing.T, objs []*Object) {
	t.Helper()
	for _, o := range objs {
		s, ok := o.Typed.(*corev1.Secret)
		if !ok || !strings.HasPrefix(s.Name, "stratus-couchdb") {
			continue
		}
		u, err := url.Parse(string(s.Data["STRATUS_COUCHDB"]))
		if err != nil || u.User == nil {
			t.Fatalf("%s: STRATUS_COUCHDB is not a URL with credentials", o.ID())
		}
		pw, _ := u.User.Password()
		if u.User.Username() != string(s.Data["COUCHDB_USER"]) || pw != string(s.Data["COUCHDB_PASSWORD"]) {
			t.Errorf("%s: STRATUS_COUCHDB's user/password differ from COUCHDB_USER/COUCHDB_PASSWORD", o.ID())
		}
		return
	}
	t.Error("no stratus-couchdb Secret")
}

// TestProdKnobs pins what the prod overlay promises: three Kafka nodes,
// replication 3, twelve partitions read by twelve slots, pinned images.
func TestProdKnobs(t *testing.T) {
	v := theValidator(t)
	objs, err := v.BuildAndDecode(filepath.Join(copyTree(t, nil), "overlays", "prod"))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		switch o.GVK.Kind {
		case "KafkaNodePool":
			if n, _ := num(o.Map, "spec", "replicas"); n != 3 {
				t.Errorf("%s: replicas %d, want 3", o.ID(), n)
			}
		case "KafkaTopic":
			r, _ := num(o.Map, "spec", "replicas")
			p, _ := num(o.Map, "spec", "partitions")
			if r != 3 {
				t.Errorf("%s: replicas %d, want 3", o.ID(), r)
			}
			if topic := str(o.Map, "spec", "topicName"); topic == "stratus.canvas" && p != 12 {
				t.Errorf("%s: partitions %d, want 12", o.ID(), p)
			}
		case "FlinkDeployment":
			if got := str(o.Map, "spec", "flinkConfiguration", "parallelism.default"); got != "12" {
				t.Errorf("parallelism.default %q, want 12", got)
			}
			if got := str(o.Map, "spec", "flinkConfiguration", "high-availability.type"); got != "kubernetes" {
				t.Errorf("high-availability.type %q, want kubernetes", got)
			}
		case "Deployment":
			d := o.Typed.(*appsv1.Deployment)
			for _, c := range d.Spec.Template.Spec.Containers {
				if (c.Name == "frontend" || c.Name == "stream") && c.Image != "ghcr.io/stratusml/stratus:0.1.0" {
					t.Errorf("%s: image %q, want the pinned release", o.ID(), c.Image)
				}
			}
		}
	}
}

// TestStrictDecodeRejects: a misspelt, unknown, miscased or duplicated field
// fails, in built-in kinds and in custom resources alike; so does an unknown
// kind and a value of the wrong type or outside an enum.
func TestStrictDecodeRejects(t *testing.T) {
	v := theValidator(t)
	const deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: x
spec:
  replicas: 1
  selector:
    matchLabels: {app: x}
  template:
    metadata:
      labels: {app: x}
    spec:
      containers:
        - name: x
          image: x:1
          ports:
            - containerPort: 8080
`
	const topic = `apiVersion: kafka.strimzi.io/v1
kind: KafkaTopic
metadata:
  name: t
  labels: {strimzi.io/cluster: k}
spec:
  partitions: 4
  replicas: 1
`
	const flink = `apiVersion: flink.apache.org/v1beta1
kind: FlinkDeployment
metadata:
  name: f
spec:
  image: flink:1.20
  flinkVersion: v1_20
  mode: standalone
  taskManager:
    replicas: 2
    resource: {cpu: 1, memory: 2048m}
    podTemplate:
      apiVersion: v1
      kind: Pod
      spec:
        containers:
          - name: side
            image: s:1
`
	const user = `apiVersion: kafka.strimzi.io/v1
kind: KafkaUser
metadata:
  name: u
  labels: {strimzi.io/cluster: k}
spec:
  authentication:
    type: scram-sha-512
  authorization:
    type: simple
    acls:
      - resource: {type: topic, name: t, patternType: literal}
        operations: [Read, Describe]
`
	tests := []struct {
		name, doc, old, new, want string
	}{
		{"deployment ok", deployment, "", "", ""},
		{"user ok", user, "", "", ""},
		{"user misspelt field", user, "operations: [Read", "operation: [Read", "operation"},
		{"user bad operation", user, "[Read, Describe]", "[Reed, Describe]", "Reed"},
		{"user bad resource type", user, "type: topic", "type: topics", "topics"},
		{"user bad mechanism", user, "type: scram-sha-512", "type: scram-sha-256", "scram-sha-256"},
		{"user unknown acl field", user, "patternType: literal}", "patternType: literal, principal: x}", "principal"},
		{"misspelt field", deployment, "replicas: 1", "replcas: 1", `unknown field "spec.replcas"`},
		{"miscased field", deployment, "containerPort: 8080", "ContainerPort: 8080", "ContainerPort"},
		{"unknown nested field", deployment, "image: x:1", "image: x:1\n          imagePullPolicyy: Always", "imagePullPolicyy"},
		{"duplicate field", deployment, "replicas: 1", "replicas: 1\n  replicas: 2", "replicas"},
		{"wrong type", deployment, "replicas: 1", "replicas: one", "replicas"},
		{"unknown kind", deployment, "kind: Deployment", "kind: Deploymint", "unknown kind"},
		{"topic ok", topic, "", "", ""},
		{"topic misspelt field", topic, "partitions: 4", "partitons: 4", `unknown field "spec.partitons"`},
		{"topic wrong type", topic, "partitions: 4", "partitions: four", "partitions"},
		{"topic unknown metadata field", topic, "  name: t", "  name: t\n  lables: {a: b}", "lables"},
		{"flink ok", flink, "", "", ""},
		{"flink misspelt field", flink, "replicas: 2", "replica: 2", "spec.taskManager.replica"},
		{"flink bad enum", flink, "mode: standalone", "mode: session", "mode"},
		{"flink misspelt pod field", flink, "- name: side", "- nmae: side", "nmae"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := tt.doc
			if tt.old != "" {
				if !strings.Contains(doc, tt.old) {
					t.Fatalf("test bug: %q not in the document", tt.old)
				}
				doc = strings.Replace(doc, tt.old, tt.new, 1)
			}
			_, err := v.Decode([]byte(doc))
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.want != "" && err == nil:
				t.Fatalf("want an error mentioning %q, got none", tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Fatalf("want an error mentioning %q, got: %v", tt.want, err)
			}
		})
	}
}

// TestOverlayRejects breaks one file of a copy of the tree at a time and
// expects the build, the strict decoding or the reference check to fail with
// the right message: the whole pipeline, kustomize included, keeps and
// reports mistakes.
func TestOverlayRejects(t *testing.T) {
	v := theValidator(t)
	replace := func(old, new string) func(string) string {
		return func(s string) string { return strings.Replace(s, old, new, 1) }
	}
	tests := []struct {
		name string
		file string
		edit func(string) string
		want string
	}{
		{"misspelt field survives kustomize", "base/frontend/deployment.yaml", replace("revisionHistoryLimit: 5", "revisionHistoryLimt: 5"), "revisionHistoryLimt"},
		{"misspelt CR field", "base/kafka/topics.yaml", replace("partitions: 1", "partitionz: 1"), "partitionz"},
		{"misspelt Strimzi enum", "base/kafka/kafka.yaml", replace("type: internal", "type: internl"), "internl"},
		{"secret key missing", "base/frontend/deployment.yaml", replace("key: STRATUS_COUCHDB", "key: STRATUS_COUCHDB_URL"), `no key "STRATUS_COUCHDB_URL"`},
		{"secret missing", "base/couchdb/statefulset.yaml", replace("name: stratus-couchdb\n                  key: COUCHDB_SECRET", "name: couchdb-cookie\n                  key: COUCHDB_SECRET"), `Secret "couchdb-cookie" does not exist`},
		{"configmap key missing", "base/couchdb/statefulset.yaml", replace("subPath: 10-stratus.ini", "subPath: 20-stratus.ini"), `no key "20-stratus.ini"`},
		{"service selects nothing", "base/frontend/service.yaml", replace("app.kubernetes.io/component: frontend\n  ports", "app.kubernetes.io/component: fronted\n  ports"), "matches the pods of no workload"},
		{"service target port undeclared", "base/flink/jobserver.yaml", replace("targetPort: expansion", "targetPort: expand"), `targets expand`},
		{"hpa target missing", "base/frontend/hpa.yaml", replace("name: stratus-frontend\n  minReplicas", "name: stratus-frontends\n  minReplicas"), "scaleTargetRef Deployment/stratus-frontends does not exist"},
		{"pdb selects nothing", "base/frontend/pdb.yaml", replace("component: frontend", "component: front"), "matches the pods of no workload"},
		{"ingress backend port", "base/frontend/ingress.yaml", replace("name: http", "name: https"), "is not a port of Service stratus-frontend"},
		{"ingress backend service", "base/frontend/ingress.yaml", replace("name: stratus-frontend\n                port", "name: stratus-web\n                port"), `backend Service "stratus-web" does not exist`},
		{"probe port undeclared", "base/couchdb/statefulset.yaml", replace("path: /_up\n              port: http", "path: /_up\n              port: 5986"), "probes port 5986"},
		{"no limits", "base/flink/stream.yaml", replace("limits:\n              cpu: 500m\n              memory: 512Mi", "limits:\n              cpu: 500m"), "resources.limits for memory"},
		{"sidecar without limits", "base/flink/flinkdeployment.yaml", replace("limits:\n                cpu: \"2\"\n                memory: 2Gi", "limits:\n                cpu: \"2\""), "beam-worker-pool: needs resources"},
		{"unpinned image", "base/flink/jobserver.yaml", replace("job_server:2.77.0", "job_server:latest"), "must be pinned"},
		{"address of a missing service", "base/flink/stream.yaml", replace("--endpoint=stratus-beam-jobserver:8099", "--endpoint=beam-jobserver:8099"), `no Service "beam-jobserver"`},
		{"address with a wrong port", "base/frontend/deployment.yaml", replace("stratus-kafka-bootstrap:9092", "stratus-kafka-bootstrap:9093"), "has no port 9093"},
		{"flink rest address", "base/flink/jobserver.yaml", replace("--flink-master=stratus-flink-rest:8081", "--flink-master=stratus-flink-rest:8080"), "stratus-flink-rest has no port 8080"},
		{"worker pool port", "base/flink/stream.yaml", replace("localhost:50000", "localhost:50001"), "localhost:50001"},
		{"couchdb url in the secret", "overlays/dev/secrets/couchdb.env", replace("@stratus-couchdb:5984", "@couchdb:5984"), `no Service "couchdb"`},
		{"pvc missing", "base/flink/jobserver.yaml", replace("claimName: stratus-flink-shared", "claimName: flink-shared"), `no PersistentVolumeClaim "flink-shared"`},
		{"topic of another cluster", "base/kafka/topics.yaml", replace("strimzi.io/cluster: stratus", "strimzi.io/cluster: kafka"), "names no Kafka"},
		{"parallelism above partitions", "overlays/dev/kustomization.yaml", replace("path: /spec/partitions\n        value: 2", "path: /spec/partitions\n        value: 1"), "above the 1 partitions"},
		{"parallelism above slots", "overlays/dev/kustomization.yaml", replace("value: \"2\"", "value: \"3\""), "needs more than the 1×2 task slots"},
		{"netpol port undeclared", "base/networkpolicy.yaml", replace("- port: artifact", "- port: artefact"), "port artefact is declared by none"},
		{"netpol selects nothing", "base/networkpolicy.yaml", replace("app.kubernetes.io/name: couchdb", "app.kubernetes.io/name: couch"), "matches no pods"},
		{"flink service account", "base/flink/flinkdeployment.yaml", replace("serviceAccount: stratus-flink", "serviceAccount: flink"), `spec.serviceAccount "flink"`},
		{"statefulset service", "base/couchdb/statefulset.yaml", replace("serviceName: stratus-couchdb-headless", "serviceName: stratus-couchdb"), "must be a headless Service"},

		// Kafka ACLs (issue 13): who may write answers and samples, read answers.
		{"frontend writes answers", "base/kafka/users.yaml", replace(frontendPredictions, "name: stratus.predictions, patternType: literal}\n        operations: [Read, Write, Describe]"), "KafkaUser/stratus-dev/stratus-frontend: may write stratus.predictions"},
		{"frontend writes samples by prefix", "base/kafka/users.yaml", replace(frontendPredictions, frontendPredictions+"\n      - resource: {type: topic, name: stratus.s, patternType: prefix}\n        operations: [Write]"), "stratus-frontend: may write stratus.samples"},
		{"frontend gets All on answers", "base/kafka/users.yaml", replace(frontendPredictions, "name: stratus.predictions, patternType: literal}\n        operations: [All]"), "stratus-frontend: may write stratus.predictions"},
		{"frontend on every topic", "base/kafka/users.yaml", replace("name: stratus.canvas, patternType: literal}\n        operations: [Write, Describe]", "name: \"*\", patternType: literal}\n        operations: [Write, Describe]"), "stratus-frontend: may write stratus.deadletter"},
		{"third user writes dead letters", "base/kafka/users.yaml", func(s string) string { return s + intruder }, "KafkaUser/stratus-dev/ops: may write stratus.deadletter"},
		{"third user reads answers", "base/kafka/users.yaml", func(s string) string {
			return s + strings.Replace(intruder, "name: stratus.deadletter, patternType: literal}\n        operations: [Write]", "name: stratus.predictions, patternType: literal}\n        operations: [Read]", 1)
		}, "KafkaUser/stratus-dev/ops: may read stratus.predictions"},
		{"pipeline reads answers", "base/kafka/users.yaml", replace("name: stratus.predictions, patternType: literal}\n        operations: [Write, Describe]", "name: stratus.predictions, patternType: literal}\n        operations: [Read, Write, Describe]"), "stratus-stream: may read stratus.predictions"},
		{"acl on a missing topic", "base/kafka/users.yaml", replace("name: stratus.canvas, patternType: literal}\n        operations: [Read, Describe]", "name: stratus.canvass, patternType: literal}\n        operations: [Read, Describe]"), `has topicName "stratus.canvass"`},
		{"pipeline misses its store group", "base/kafka/users.yaml", replace("      - resource: {type: group, name: stratus-stream-store, patternType: literal}\n        operations: [Read, Describe]\n", ""), "stratus-stream: needs Read on group stratus-stream-store"},
		{"frontend cannot write events", "base/kafka/users.yaml", replace("name: stratus.canvas, patternType: literal}\n        operations: [Write, Describe]", "name: stratus.canvas, patternType: literal}\n        operations: [Describe]"), "stratus-frontend: needs Write on topic stratus.canvas"},
		{"frontend gets a group", "base/kafka/users.yaml", replace(frontendPredictions, frontendPredictions+"\n      - resource: {type: group, name: stratus-stream, patternType: literal}\n        operations: [Read]"), "only the pipeline's user (stratus-stream) uses consumer groups"},
		{"cluster acl", "base/kafka/users.yaml", replace(frontendPredictions, frontendPredictions+"\n      - resource: {type: cluster}\n        operations: [Alter]"), "a cluster ACL"},
		{"topic alter", "base/kafka/users.yaml", replace(frontendPredictions, "name: stratus.predictions, patternType: literal}\n        operations: [Read, Describe, Alter]"), "operation Alter on a topic"},
		{"acl misspelt", "base/kafka/users.yaml", replace("operations: [Write, Describe]", "operations: [Writ, Describe]"), "Writ"},
		{"user of another cluster", "base/kafka/users.yaml", replace("strimzi.io/cluster: stratus", "strimzi.io/cluster: kafka"), "KafkaUser/stratus-dev/stratus-stream: label strimzi.io/cluster \"kafka\" names no Kafka"},
		{"pipeline group moved", "base/flink/stream.yaml", replace("- --environment-config=localhost:50000", "- --environment-config=localhost:50000\n            - --group=pipeline"), "needs Read on group pipeline"},
		{"no authorization", "base/kafka/kafka.yaml", replace("    authorization:\n      type: simple\n", ""), "authorization.type must be simple"},
		{"super user", "base/kafka/kafka.yaml", replace("      type: simple\n", "      type: simple\n      superUsers: [ops]\n"), "superUsers [ops]"},
		{"allow everyone", "base/kafka/kafka.yaml", replace("auto.create.topics.enable: false", "auto.create.topics.enable: false\n      allow.everyone.if.no.acl.found: true"), "allow.everyone.if.no.acl.found"},
		{"anonymous listener", "base/kafka/kafka.yaml", replace("        authentication:\n          type: scram-sha-512\n", ""), "listener scram has no authentication"},
		{"no user operator", "base/kafka/kafka.yaml", replace("    userOperator:\n", "    userOperatorr:\n"), "userOperatorr"},

		// Kafka clients: each logs in as its own user with its user's Secret.
		{"password of no user", "base/frontend/deployment.yaml", replace("name: stratus-frontend # made", "name: stratus-frontends # made"), `Secret "stratus-frontends" does not exist`},
		{"frontend with the pipeline's password", "base/frontend/deployment.yaml", replace("name: stratus-frontend # made", "name: stratus-stream # made"), "KafkaUser stratus-stream's Secret"},
		{"frontend logs in as the pipeline", "base/frontend/deployment.yaml", func(s string) string {
			s = strings.Replace(s, "value: stratus-frontend\n", "value: stratus-stream\n", 1)
			return strings.Replace(s, "name: stratus-frontend # made", "name: stratus-stream # made", 1)
		}, "the pipeline and the frontends log in as the same user"},
		{"frontend user unknown", "base/frontend/deployment.yaml", replace("value: stratus-frontend\n", "value: frontend\n"), `STRATUS_KAFKA_USER "frontend" is no KafkaUser`},
		{"literal password", "base/frontend/deployment.yaml", replace("              valueFrom:\n                secretKeyRef:\n                  name: stratus-frontend # made by Strimzi's User Operator\n                  key: password", "              value: hunter2"), "STRATUS_KAFKA_PASSWORD is a literal"},
		{"wrong mechanism", "base/flink/stream.yaml", replace("value: scram-sha-512", "value: scram-sha-256"), "set STRATUS_KAFKA_SASL=scram-sha-512"},
		{"worker pool without password", "base/flink/flinkdeployment.yaml", replace("            env:\n              - name: STRATUS_KAFKA_PASSWORD\n", "            env:\n              - name: STRATUS_KAFKA_PASSWORD_X\n"), "beam-worker-pool: no STRATUS_KAFKA_PASSWORD"},
		{"worker pool with the frontend's password", "base/flink/flinkdeployment.yaml", replace("name: stratus-stream # made", "name: stratus-frontend # made"), "not from stratus-dev/stratus-stream key password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := copyTree(t, map[string]func(string) string{tt.file: tt.edit})
			objs, err := v.BuildAndDecode(filepath.Join(root, "overlays", "dev"))
			if err == nil {
				err = CheckReferences(objs)
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("want an error mentioning %q, got: %v", tt.want, err)
			}
		})
	}
}

// frontendPredictions is the frontends' ACL on the answers in users.yaml.
const frontendPredictions = "name: stratus.predictions, patternType: literal}\n        operations: [Read, Describe]"

// intruder is a third KafkaUser, allowed to write dead letters.
const intruder = `---
apiVersion: kafka.strimzi.io/v1
kind: KafkaUser
metadata:
  name: ops
  labels:
    strimzi.io/cluster: stratus
spec:
  authentication:
    type: scram-sha-512
  authorization:
    type: simple
    acls:
      - resource: {type: topic, name: stratus.deadletter, patternType: literal}
        operations: [Write]
`

// TestCRDsLoaded: the vendored CRDs cover every custom kind the manifests use.
func TestCRDsLoaded(t *testing.T) {
	got := strings.Join(theValidator(t).CRDKinds(), " ")
	for _, want := range []string{"kafka.strimzi.io/v1, Kind=Kafka", "kafka.strimzi.io/v1, Kind=KafkaNodePool", "kafka.strimzi.io/v1, Kind=KafkaTopic", "kafka.strimzi.io/v1, Kind=KafkaUser", "flink.apache.org/v1beta1, Kind=FlinkDeployment"} {
		if !strings.Contains(got, want) {
			t.Errorf("no CRD for %s (have %s)", want, got)
		}
	}
}

// wantKafkaGrants is every ACL of every overlay (issue 13): the pipeline
// (User:stratus-stream) alone writes answers, samples and dead letters; the
// frontends (User:stratus-frontend) alone read the answers; nobody else
// has anything.
var wantKafkaGrants = []string{
	"User:stratus-frontend Describe topic:stratus.canvas",
	"User:stratus-frontend Describe topic:stratus.predictions",
	"User:stratus-frontend Read topic:stratus.predictions",
	"User:stratus-frontend Write topic:stratus.canvas",
	"User:stratus-stream Describe group:stratus-stream",
	"User:stratus-stream Describe group:stratus-stream-store",
	"User:stratus-stream Describe topic:stratus.canvas",
	"User:stratus-stream Describe topic:stratus.deadletter",
	"User:stratus-stream Describe topic:stratus.predictions",
	"User:stratus-stream Describe topic:stratus.samples",
	"User:stratus-stream Read group:stratus-stream",
	"User:stratus-stream Read group:stratus-stream-store",
	"User:stratus-stream Read topic:stratus.canvas",
	"User:stratus-stream Read topic:stratus.samples",
	"User:stratus-stream Write topic:stratus.deadletter",
	"User:stratus-stream Write topic:stratus.predictions",
	"User:stratus-stream Write topic:stratus.samples",
}

// TestKafkaACLs pins the whole ACL set of every overlay, and that the
// broker enforces it: simple authorization, SCRAM-SHA-512 on every
// listener, no super user, and each client logging in as its own user.
func TestKafkaACLs(t *testing.T) {
	v := theValidator(t)
	root := copyTree(t, nil)
	for _, name := range overlays(t) {
		t.Run(name, func(t *testing.T) {
			objs, err := v.BuildAndDecode(filepath.Join(root, "overlays", name))
			if err != nil {
				t.Fatal(err)
			}
			got := KafkaGrants(objs)
			if strings.Join(got, "\n") != strings.Join(wantKafkaGrants, "\n") {
				t.Errorf("overlay %s grants:\n  %s\nwant:\n  %s", name, strings.Join(got, "\n  "), strings.Join(wantKafkaGrants, "\n  "))
			}
			users := map[string]string{} // workload container → STRATUS_KAFKA_USER
			for _, o := range objs {
				switch o.GVK.Kind {
				case "Kafka":
					if a := str(o.Map, "spec", "kafka", "authorization", "type"); a != "simple" {
						t.Errorf("%s: authorization %q, want simple", o.ID(), a)
					}
					ls, _ := path(o.Map, "spec", "kafka", "listeners").([]any)
					for _, l := range ls {
						if a := str(l.(map[string]any), "authentication", "type"); a != "scram-sha-512" {
							t.Errorf("%s: listener authentication %q, want scram-sha-512", o.ID(), a)
						}
					}
				case "Deployment":
					for _, c := range o.Typed.(*appsv1.Deployment).Spec.Template.Spec.Containers {
						if u, _, ok := setting(&c, "kafka-user"); ok {
							users[o.Name+"/"+c.Name] = u
						}
					}
				}
			}
			if users["stratus-stream/stream"] != "stratus-stream" || users["stratus-frontend/frontend"] != "stratus-frontend" {
				t.Errorf("Kafka users of the workloads: %v", users)
			}
		})
	}
}

// TestKafkaUserTypedDecode: the cross references decode each KafkaUser
// into its typed struct strictly on their own, whatever passed the CRD.
func TestKafkaUserTypedDecode(t *testing.T) {
	v := theValidator(t)
	objs, err := v.BuildAndDecode(filepath.Join(copyTree(t, nil), "overlays", "dev"))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.GVK.Kind == "KafkaUser" && o.Name == "stratus-frontend" {
			acl := path(o.Map, "spec", "authorization", "acls").([]any)[0].(map[string]any)
			acl["principal"] = "User:*"
		}
	}
	err = CheckReferences(objs)
	if err == nil || !strings.Contains(err.Error(), `KafkaUser/stratus-dev/stratus-frontend: spec: unknown field "authorization.acls[0].principal"`) {
		t.Fatalf("want the unknown field reported, got: %v", err)
	}
}
