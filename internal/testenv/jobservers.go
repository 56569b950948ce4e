package testenv

import "testing"

// Names of the job servers' environment variables (deploy/local/flink.sh
// and spark.sh write them).
const (
	// EnvFlink holds the Flink job server's job endpoint, host:port.
	EnvFlink = "STRATUS_FLINK_ENDPOINT"
	// EnvSpark holds the Spark job server's job endpoint, host:port.
	EnvSpark = "STRATUS_SPARK_ENDPOINT"
)

// Flink returns the job endpoint of Beam's Flink job server for a test, with
// the same rules as Kafka: skip when integration tests are off, fail when
// they are on and the server is not configured or not reachable.
func Flink(t testing.TB) string {
	t.Helper()
	return jobServer(t, EnvFlink, "the Flink job server", "deploy/local/flink.sh start")
}

// Spark returns the job endpoint of Beam's Spark job server for a test (see
// Flink).
func Spark(t testing.TB) string {
	t.Helper()
	return jobServer(t, EnvSpark, "the Spark job server", "deploy/local/spark.sh start")
}

func jobServer(t testing.TB, key, what, script string) string {
	t.Helper()
	addr := require(t, key, what, script)
	if err := reachable(addr); err != nil {
		t.Fatalf("testenv: %s at %s (%s) is not reachable: %v; start it with %s (or deploy/local/up.sh)", what, addr, source(key), err, script)
	}
	return addr
}
