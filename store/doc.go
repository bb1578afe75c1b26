// Package store is paycode's Redis layer: the key names, the Lua scripts and
// the connection, including the embedded in-process default. It is the one
// place that shows the data model.
//
// # Topologies
//
// Open returns a Store on a go-redis UniversalClient: a single node
// (PAYCODE_REDIS_URL), a Redis Cluster (PAYCODE_REDIS_ADDRS) or a Sentinel
// group (PAYCODE_REDIS_ADDRS + PAYCODE_REDIS_SENTINEL_MASTER). With no address
// and Options.Embedded set, it starts miniredis in the process and says so in
// the log; nothing falls back to the embedded store after a failed connection.
// Open performs a real write/read/delete round trip before it returns.
//
// # Routing buckets and hash tags
//
// Every account has a routing bucket, a number 0000-9999 chosen at random
// when the account is created and written into its account id
// ("acct_1234..."). Every key of an account carries the bucket as a hash tag,
// "{b1234}", so that all of an account's keys (device, credentials, sessions,
// wallet, live codes, ledger) are in one Redis Cluster hash slot, and a
// script that touches several of them stays one atomic script. The payment
// code carries the same bucket, so a redemption finds its slot from the code
// alone. Keys that belong to no account (terminals, switches, the audit
// stream, health probes) have their own tags or none.
//
// # Key names
//
// Every key begins with the configured prefix (PAYCODE_REDIS_PREFIX, default
// "pc:"). No key name contains a secret: single-use values (challenges, OTPs,
// codes, refresh tokens) are named by a keyed hash or an opaque id.
//
//	{prefix}health:{random}            string, 10 s TTL    start-up and /readyz round trip
//	{prefix}eph:{b1234}:{kind}:{id}    string, TTL always   single-use values of an account (Put/Take)
//	{prefix}enr:{b1234}:{enr_id}       hash, TTL always     an enrollment (a new device): state, its fixed DPoP key, OTP and cancel-token hashes, cool-down; expiry + 24 h
//	{prefix}enrollments:{b1234}:{acct} zset, TTL always     the account's live enrollment ids, scored by expiry (ms)
//	{prefix}cchg:{b1234}:{cch_id}      hash, 10 min TTL     a contact change waiting for the new address's OTP (hashes only)
//	{prefix}acct:{b1234}:{acct}        hash field           probation_until (ms): set when a new device becomes active
//	{prefix}switches                   hash, durable        the operator's kill switches: signups, topups, new_devices (on/off), reauth_after (ms), blocked_countries (ISO codes)
//
// Later features add their keys to keys.go and to this table.
//
// # Errors
//
// Methods return ErrNotFound for a missing key and wrap ErrUnavailable around
// every failure to reach Redis (network errors, timeouts, LOADING,
// CLUSTERDOWN, TRYAGAIN, READONLY), which the API answers with 503. Callers
// compare with errors.Is and fail closed on anything else.
package store
