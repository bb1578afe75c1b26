// Package faulttest holds paycode's fault tests (issue 11): a bounded
// workload of payments, refunds and top-ups (internal/moneycheck) against
// a real paycode server on real Redis processes (internal/redistest),
// while Redis is killed, failed over with a lagging replica, or its
// replies are delayed or withheld (internal/faultproxy). Each test prints
// the checker's summary line:
//
//	lost=… doubled=… wrong=… two_ids=… unacked_applied=… | …
//
// What each test asserts depends on which of issue 11's fixes paycode has:
// see gate_test.go, the one place to switch them on. The tests skip when
// redis-server (and redis-cli, for the Cluster) is missing, fail then when
// PAYCODE_TEST_REQUIRE_REDIS or CI is set, and skip with -short.
package faulttest
