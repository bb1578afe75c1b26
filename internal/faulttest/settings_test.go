package faulttest

import (
	"strconv"
)

// Settings of issue 11 every fault test runs paycode with.
const (
	waitTimeout  = "250ms" // PAYCODE_REDIS_WAIT_TIMEOUT
	redisTimeout = "500ms" // PAYCODE_REDIS_TIMEOUT
	// promptAnswerMillis separates "the deadline answered" (about a second:
	// two 500 ms tries) from "waited for Redis" (the 4 s delay, or the
	// client's own 8 s timeout when replies are withheld) with room for
	// -race on two shared cores. It is a bound on a mechanism, not a
	// latency figure: the runs log the slowest attempt.
	promptAnswerMillis = 3000
)

func settings(waitReplicas int) map[string]string {
	return map[string]string{
		"PAYCODE_REDIS_WAIT_REPLICAS": strconv.Itoa(waitReplicas),
		"PAYCODE_REDIS_WAIT_TIMEOUT":  waitTimeout,
		"PAYCODE_REDIS_TIMEOUT":       redisTimeout,
	}
}
