package docker

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

// LoadCompose loads a compose file the way `docker compose` does, strictly:
// the compose-spec JSON schema rejects unknown or misspelt keys,
// interpolation runs with env (and nothing from this process), and the
// consistency check rejects references to services, volumes, networks,
// configs or secrets that are not defined. env_file contents are not read
// (the real files hold credentials and are not committed); CheckCompose checks
// their committed .example placeholders instead.
func LoadCompose(ctx context.Context, path string, env map[string]string) (*types.Project, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	src, err := os.ReadFile(abs)
	if err != nil {
		return nil, err
	}
	details := types.ConfigDetails{
		WorkingDir:  filepath.Dir(abs),
		ConfigFiles: []types.ConfigFile{{Filename: abs, Content: src}},
		Environment: env,
	}
	return loader.LoadWithContext(ctx, details, func(o *loader.Options) {
		o.SetProjectName("stratus", true)
		o.ResolvePaths = true
		o.SkipResolveEnvironment = true
	})
}

// hostPort matches NAME:PORT where NAME could be a compose service.
var hostPort = regexp.MustCompile(`(?:^|[^A-Za-z0-9.-])([a-z][a-z0-9-]*):([0-9]{2,5})\b`)

// servicePorts are the container ports a service declares (expose, ports).
func servicePorts(s types.ServiceConfig) []string {
	var ports []string
	for _, e := range s.Expose {
		ports = append(ports, strings.SplitN(e, "/", 2)[0])
	}
	for _, p := range s.Ports {
		ports = append(ports, strconv.Itoa(int(p.Target)))
	}
	return ports
}

// words is everything in a service that may name another service's address:
// its command, entrypoint and inline environment values.
func words(s types.ServiceConfig) []string {
	out := append(append([]string{}, s.Entrypoint...), s.Command...)
	keys := make([]string, 0, len(s.Environment))
	for k := range s.Environment {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if v := s.Environment[k]; v != nil {
			out = append(out, *v)
		}
	}
	return out
}

// ReadEnvFile reads an env file the way compose does (KEY=VALUE, #
// comments, quoting), without looking anything up in this process's
// environment.
func ReadEnvFile(path string) (map[string]string, error) {
	return dotenv.ReadFile(path, func(string) (string, bool) { return "", false })
}

// CheckReferences returns a problem for every NAME:PORT in a service's
// command, entrypoint or environment (and in extra, per service: the values
// of its env files) where NAME is a service that does not declare PORT in
// expose or ports, and for every network_mode "service:X" whose X is not a
// service.
func CheckReferences(p *types.Project, extra map[string][]string) error {
	var errs []error
	for _, name := range p.ServiceNames() {
		s := p.Services[name]
		if target, ok := strings.CutPrefix(s.NetworkMode, "service:"); ok {
			if _, ok := p.Services[target]; !ok {
				errs = append(errs, fmt.Errorf("%s: network_mode %q: no such service", name, s.NetworkMode))
			}
		}
		for _, w := range append(words(s), extra[name]...) {
			for _, m := range hostPort.FindAllStringSubmatch(w, -1) {
				target, port := m[1], m[2]
				t, ok := p.Services[target]
				if !ok {
					continue // not a service name (a flag value, a URL scheme)
				}
				if !slices.Contains(servicePorts(t), port) {
					errs = append(errs, fmt.Errorf("%s: %q names %s:%s but %s declares ports %v (expose:)", name, w, target, port, target, servicePorts(t)))
				}
			}
		}
	}
	return errors.Join(errs...)
}

// flagValue is the value of --name=V or --name V in args.
func flagValue(args []string, name string) (string, bool) {
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v, true
		}
		if a == name && i+1 < len(args) {
			return args[i+1], true
		}
	}
	return "", false
}

// CheckCompose checks Stratus's compose project: the services it must have
// and what each must do, hardening of the stratus containers, images pinned
// to a tag, credentials only in env files (with committed .example
// placeholders that agree with each other), the shared artifact volume of
// the Beam job server and the task manager, the worker pool sidecar, the
// broker's authorization and the Kafka ACLs (CheckKafkaACLs), and every
// NAME:PORT reference (CheckReferences).
func CheckCompose(p *types.Project) error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	want := []string{"kafka", "kafka-init", "couchdb", "flink-data-init", "flink-jobmanager", "flink-taskmanager",
		"beam-worker-pool", "beam-jobserver", "stream", "frontend-1", "frontend-2", "nginx"}
	for _, w := range want {
		if _, ok := p.Services[w]; !ok {
			bad("missing service %q", w)
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}

	// Images: pinned to a tag (never latest).
	for _, name := range p.ServiceNames() {
		s := p.Services[name]
		ref := s.Image
		if i := strings.LastIndex(ref, "/"); i >= 0 {
			ref = ref[i+1:]
		}
		_, tag, ok := strings.Cut(ref, ":")
		if s.Image == "" || !ok || tag == "" || tag == "latest" {
			bad("%s: image %q must name a tag other than latest", name, s.Image)
		}
	}

	// Env files: every one has a committed .example; credentials appear in
	// no inline environment.
	envs := map[string]map[string]string{} // service → merged .example values
	extra := map[string][]string{}
	for _, name := range p.ServiceNames() {
		s := p.Services[name]
		for k, v := range s.Environment {
			if strings.Contains(strings.ToUpper(k), "PASSWORD") || k == "STRATUS_COUCHDB" || v != nil && strings.Contains(strings.ToLower(*v), "password=") {
				bad("%s: %s is set inline; credentials belong in an env file", name, k)
			}
		}
		for _, ef := range s.EnvFiles {
			ex, err := ReadEnvFile(ef.Path + ".example")
			if err != nil {
				bad("%s: env_file %s has no readable placeholder %s.example: %v", name, filepath.Base(ef.Path), filepath.Base(ef.Path), err)
				continue
			}
			if envs[name] == nil {
				envs[name] = map[string]string{}
			}
			for k, v := range ex {
				envs[name][k] = v
				extra[name] = append(extra[name], v)
			}
		}
	}
	couch, stratus := envs["couchdb"], envs["stream"]
	if couch["COUCHDB_USER"] == "" || couch["COUCHDB_PASSWORD"] == "" {
		bad("couchdb: its env file must set COUCHDB_USER and COUCHDB_PASSWORD")
	}
	if u, err := url.Parse(stratus["STRATUS_COUCHDB"]); err != nil || u.User == nil {
		bad("stream: STRATUS_COUCHDB must be a URL with the CouchDB credentials, got %q", stratus["STRATUS_COUCHDB"])
	} else {
		pw, _ := u.User.Password()
		if u.User.Username() != couch["COUCHDB_USER"] || pw != couch["COUCHDB_PASSWORD"] {
			bad("the credentials in STRATUS_COUCHDB's placeholder differ from couchdb's COUCHDB_USER/COUCHDB_PASSWORD")
		}
		if u.Host != "couchdb:5984" {
			bad("STRATUS_COUCHDB must point at couchdb:5984, got %q", u.Host)
		}
	}

	// The stratus containers: non-root, read-only, no capabilities.
	replicas := map[string]string{}
	for _, name := range []string{"stream", "frontend-1", "frontend-2"} {
		s := p.Services[name]
		if s.User == "" || strings.HasPrefix(s.User, "0") || strings.HasPrefix(s.User, "root") {
			bad("%s: must run as a non-root user, got %q", name, s.User)
		}
		if !s.ReadOnly || !slices.Contains(s.CapDrop, "ALL") {
			bad("%s: want read_only: true and cap_drop: [ALL]", name)
		}
		if len(s.EnvFiles) == 0 {
			bad("%s: needs the stratus env file (STRATUS_COUCHDB)", name)
		}
		if s.Deploy == nil || s.Deploy.Resources.Limits == nil || s.Deploy.Resources.Limits.MemoryBytes == 0 {
			bad("%s: needs a memory limit", name)
		}
		if strings.HasPrefix(name, "frontend-") {
			if len(s.Command) == 0 || s.Command[0] != "serve" {
				bad("%s: must run `stratus serve`, runs %q", name, s.Command)
			}
			if v, _ := flagValue(s.Command, "--listen"); v != "0.0.0.0:8080" {
				bad("%s: --listen must be 0.0.0.0:8080, got %q", name, v)
			}
			r, _ := flagValue(s.Command, "--replica")
			if r == "" {
				bad("%s: needs --replica (the reply_to of its events)", name)
			} else if other, dup := replicas[r]; dup {
				bad("%s and %s share --replica %q", other, name, r)
			}
			replicas[r] = name
		}
	}
	if p.Services["stream"].Build == nil {
		bad("stream: must build the stratus image")
	} else if b := p.Services["stream"].Build; !fileExists(filepath.Join(b.Context, "go.mod")) || !fileExists(filepath.Join(b.Context, b.Dockerfile)) {
		bad("stream: build context %s must be the repository root with %s in it", b.Context, b.Dockerfile)
	}
	st := p.Services["stream"]
	if len(st.Command) == 0 || st.Command[0] != "stream" {
		bad("stream: must run `stratus stream`, runs %q", st.Command)
	}
	if v, _ := flagValue(st.Command, "--runner"); v != "flink" {
		bad("stream: --runner must be flink, got %q", v)
	}
	if v, _ := flagValue(st.Command, "--endpoint"); v != "beam-jobserver:8099" {
		bad("stream: --endpoint must be the job server's beam-jobserver:8099, got %q", v)
	}
	envType, _ := flagValue(st.Command, "--environment-type")
	envConfig, _ := flagValue(st.Command, "--environment-config")
	if envType != "external" || envConfig != "localhost:50000" {
		bad("stream: want --environment-type=external --environment-config=localhost:50000 (the worker pool beside the task manager), got %q %q", envType, envConfig)
	}
	for _, name := range []string{"stream", "frontend-1", "frontend-2"} {
		if p.Services[name].DependsOn["kafka-init"].Condition != types.ServiceConditionCompletedSuccessfully {
			bad("%s: must wait for kafka-init to complete (topics, users, ACLs)", name)
		}
	}

	// The worker pool shares the task manager's network; the task manager
	// declares its port.
	wp := p.Services["beam-worker-pool"]
	if wp.NetworkMode != "service:flink-taskmanager" || !slices.Contains(wp.Command, "--worker_pool") {
		bad("beam-worker-pool: want command --worker_pool and network_mode service:flink-taskmanager")
	}
	if !slices.Contains(servicePorts(p.Services["flink-taskmanager"]), "50000") {
		bad("flink-taskmanager: must declare the worker pool's port 50000 (expose)")
	}

	// The job server stages artifacts where the task manager reads them.
	js := p.Services["beam-jobserver"]
	dir, _ := flagValue(js.Command, "--artifacts-dir")
	if m, ok := mountOf(js, dir); !ok {
		bad("beam-jobserver: --artifacts-dir %q is on no volume", dir)
	} else if tm, ok := mountOf(p.Services["flink-taskmanager"], dir); !ok || tm.Source != m.Source {
		bad("flink-taskmanager: must mount volume %q at %s like beam-jobserver (the staged artifacts)", m.Source, m.Target)
	}
	if v, _ := flagValue(js.Command, "--flink-master"); v != "flink-jobmanager:8081" {
		bad("beam-jobserver: --flink-master must be flink-jobmanager:8081, got %q", v)
	}

	// nginx renders deploy/nginx's template over both frontends.
	ng := p.Services["nginx"]
	script := strings.Join(ng.Command, " ")
	var nginxDir string
	for _, v := range ng.Volumes {
		if v.Target == "/etc/stratus-nginx" {
			nginxDir = v.Source
		}
	}
	if !fileExists(filepath.Join(nginxDir, "render.sh")) || !fileExists(filepath.Join(nginxDir, "nginx.conf.tmpl")) {
		bad("nginx: must mount deploy/nginx (render.sh, nginx.conf.tmpl) at /etc/stratus-nginx, mounts %q", nginxDir)
	}
	for _, f := range []string{"frontend-1", "frontend-2"} {
		if !strings.Contains(script, "--upstream "+f+":8080") {
			bad("nginx: must balance over %s:8080", f)
		}
	}
	if err := CheckKafkaACLs(p, envs); err != nil {
		errs = append(errs, err)
	}
	if err := CheckReferences(p, extra); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// mountOf is the volume of s whose target holds path.
func mountOf(s types.ServiceConfig, path string) (types.ServiceVolumeConfig, bool) {
	if path == "" {
		return types.ServiceVolumeConfig{}, false
	}
	for _, v := range s.Volumes {
		if path == v.Target || strings.HasPrefix(path, strings.TrimSuffix(v.Target, "/")+"/") {
			return v, true
		}
	}
	return types.ServiceVolumeConfig{}, false
}

func fileExists(path string) bool {
	st, err := os.Stat(path)
	return err == nil && !st.IsDir()
}
