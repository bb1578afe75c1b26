// Package redistest starts real redis-server processes for tests that need
// to hurt Redis: kill it, freeze it, cut its replication link, fail it over.
// Every process listens on 127.0.0.1 on a free port chosen at run time
// (between 20000 and 22700, so that a Cluster bus port, port+10000, stays
// below the ephemeral range and clear of the shared Redis on 6379 and the
// shared Cluster on 7000-7002/17000-17002), keeps its files in the test's
// temporary directory, and is killed when the test ends.
//
// Topologies:
//
//   - [StartNode]: one node; with [AOFAlways], what it acknowledged survives
//     SIGKILL and [Node.Restart].
//   - [StartSentinel]: 1 master, 1 replica and 3 sentinels
//     (down-after-milliseconds 1000), with the options a go-redis
//     FailoverClient needs.
//   - [StartCluster]: 3 masters and 3 replicas (cluster-node-timeout 1000),
//     with the seeds a go-redis ClusterClient needs.
//
// Faults and waits: [Node.Kill] (SIGKILL), [Node.Pause] and [Node.Resume]
// (SIGSTOP, SIGCONT), [Node.Restart], [Node.KillReplicaLinks] (CLIENT KILL
// TYPE replica), [Sentinel.WaitFailover], [Cluster.WaitOwnerChange],
// [Sentinel.WaitInSync] and [Cluster.WaitInSync]. Every wait polls the real
// state with a bound and fails the test when the bound passes; none sleeps
// in the hope that something happened.
//
// Without redis-server (and redis-cli for a Cluster) the tests that need it
// are skipped, or fail when PAYCODE_TEST_REQUIRE_REDIS or CI is set.
//
// Methods that can fail call t.Fatal, so call them from the test's
// goroutine only.
package redistest
