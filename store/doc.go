// Package store is paycode's Redis layer: the key names, the Lua scripts and
// the connection, including the embedded in-process default. It is the one
// place that shows the data model: every key family, its type, slot and TTL,
// and what writes it, is in the key table below.
//
// # Topologies
//
// Open returns a Store on a go-redis UniversalClient: a single node
// (PAYCODE_REDIS_URL), a Redis Cluster (PAYCODE_REDIS_ADDRS) or a Sentinel
// group (PAYCODE_REDIS_ADDRS + PAYCODE_REDIS_SENTINEL_MASTER). Username,
// password and TLS (PAYCODE_REDIS_USERNAME, PAYCODE_REDIS_PASSWORD,
// PAYCODE_REDIS_TLS) apply to Cluster and Sentinel connections; a URL carries
// its own. With no address and Options.Embedded set, it starts miniredis in
// the process and says so in the log; nothing falls back to the embedded
// store after a failed connection. Open refuses a key prefix with a brace in
// it (it would become a hash tag) and performs a real write/read/delete round
// trip before it returns.
//
// # Routing buckets and hash tags
//
// Every account has a routing bucket, a number 0000-9999 chosen at random
// when its sign-up begins (NewSignupID) and written into the sign-up id and
// then the account id ("acct_1234..."). Every key of an account carries the
// bucket as a hash tag, "{b1234}", so that all of an account's keys (account,
// devices, credentials, sessions, enrollments, wallet, ledger, codes,
// payments, refunds, idempotency records, events) are in one Redis Cluster
// hash slot, and a script that touches several of them stays one atomic
// script. The ids of things that belong to an account (sessions, enrollments,
// contact changes, payments, refunds) carry the same four digits, and so does
// the payment code, so each of their keys is named from the id or the code
// alone. All accounts of a bucket share its slot, and so does the bucket's
// settlement stream, which the money scripts write in the same atomic step.
//
// Keys that belong to no account (the contact index, terminals (with their
// guess counters in the same hash), switches, the audit stream, DPoP replay entries, rate
// limits, health probes, the dev outbox and signing key) carry no hash tag:
// each lands in the slot its whole name hashes to. So the contact index is
// never written in the same script as an account: CreateAccount and
// ChangeContact claim it in a step of its own (SET NX) and release the claim
// when the account step fails.
//
// # Key names
//
// Every key begins with the configured prefix (PAYCODE_REDIS_PREFIX, default
// "pc:"), written {prefix} below, and Keys is the only code that spells a
// name. The one exception is the rate limits: redis_rate prepends its own
// "rate:" to the name Keys.RateLimit gives it. No key name contains a secret:
// single-use values (challenges, OTPs, codes, refresh tokens, idempotency
// keys, DPoP jtis) are named by a keyed hash or an opaque id, and contacts
// by their keyed hash. Ids are a kind, "_", the four bucket digits and 24
// base32 characters (acct_, sess_, sgn_, cer_, enr_, cch_, pay_, rfd_);
// terminal ids are "term_" and 24 characters, with no bucket.
//
// In the table, slot is "acct" for the account's bucket tag, "bucket" for a
// bucket's tag that no account owns, "store" for a store's tag, "term" for
// the slot of a terminal's key, "own" for no tag (the whole name picks
// the slot) and "-" for a pub/sub channel (PUBLISH reaches every node). TTL
// "none (durable)" means the key is never given an expiry and never trimmed
// by paycode. Under each key: its hash fields (or value, members, entries)
// and "by", the Lua script (its variable, then the Store method that runs it)
// or Store method that writes it. Times are Unix milliseconds unless said.
//
//	key                                           type    slot   TTL (and where it comes from)
//
//	Per account: one slot, the account's bucket tag.
//
//	{prefix}acct:{b1234}:{acct_id}                hash    acct   none (durable)
//	    fields  id, contact, contact_kind (email|phone), status (active|frozen), created_at, device_id, device_jkt, device_status
//	            (active|locked|revoked), probation_until (absent or past: no probation), lang (en|ja: notifications; absent:
//	            English), contact_change (the id of the contact change in its cool-down; absent: none), contact_change_at
//	            (when it applies)
//	    by      createAccount (CreateAccount); setAccountLang (SetAccountLang); setDeviceStatus (SetDeviceStatus); setAccountStatus (SetAccountStatus);
//	            activateEnrollment (ActivateEnrollment: device_*, probation_until); applyContact (ChangeContact: contact,
//	            contact_kind, probation_until extended, never shortened; HDEL contact_change*); pendContact
//	            (PendContactChange: contact_change, contact_change_at); endContact (EndContactChange: HDEL contact_change*)
//
//	{prefix}devices:{b1234}:{acct_id}             hash    acct   none (durable; a replaced device's record stays)
//	    fields  device id -> Device JSON: id, account_id, jkt, label, credential_id, created_at
//	    by      createAccount (CreateAccount); activateEnrollment (ActivateEnrollment)
//
//	{prefix}creds:{b1234}:{acct_id}               hash    acct   none (durable)
//	    fields  credential id (base64url) -> CredentialRecord JSON: credential (go-webauthn), account_id, device_id, created_at
//	    by      createAccount (CreateAccount); recordAssertion (RecordAssertion: flags); activateEnrollment (ActivateEnrollment:
//	            DEL, then the new passkey)
//
//	{prefix}credctr:{b1234}:{acct_id}             hash    acct   none (durable)
//	    fields  credential id (base64url) -> sign count: the authority the counter check compares against
//	    by      createAccount (CreateAccount); recordAssertion (RecordAssertion: only upward); activateEnrollment (DEL, then the new
//	            one)
//
//	{prefix}recovery:{b1234}:{acct_id}            set     acct   none (durable)
//	    members keyed hashes of the unused recovery codes
//	    by      createAccount (CreateAccount: SADD); recoverEnrollment (StartRecovery: SREM of the code spent)
//
//	{prefix}sess:{b1234}:{sess_id}                hash    acct   session idle TTL, PAYCODE_SESSION_IDLE (15 min), renewed by every
//	                                                             use, never past abs_exp = creation + PAYCODE_SESSION_MAX (24 h)
//	    fields  account, device, jkt, auth_time, created_at, abs_exp, amr (space-separated), refresh (keyed hash of the current
//	            refresh token), spent:<keyed hash> = 1 for each spent refresh token (reuse detection)
//	    by      CreateSession (MULTI: HSET, PEXPIRE, SADD to sessions:); touchSession (TouchSession), rotateRefresh (RotateRefresh)
//	            and setAuthTime (SetAuthTime) each PEXPIRE again; deleted by DeleteSession, RevokeSessions, activateEnrollment,
//	            rotateRefresh on reuse, and the session check once abs_exp has passed
//
//	{prefix}sessions:{b1234}:{acct_id}            set     acct   none: the ids of sessions that time out stay until one of the
//	                                                             removals below
//	    members the account's session ids
//	    by      CreateSession (SADD); DeleteSession, rotateRefresh on reuse (SREM); RevokeSessions, activateEnrollment (DEL)
//
//	{prefix}signup:{b1234}:{sgn_id}               hash    acct   10 min: otpTTL (bff/signup.go), passed to PutSignup
//	    fields  contact, contact_kind, contact_hash, otp (keyed hash; "" once verified), tries (otpTries, 5), existing (1: the
//	            contact has an account, and no guess verifies), verified (0|1), lang (the messages' language, then the
//	            account's). The id's bucket becomes the account's.
//	    by      PutSignup (MULTI: HSET, PEXPIRE); verifyOTP (VerifySignupOTP; DEL when the tries run out); createAccount
//	            (CreateAccount: DEL)
//
//	{prefix}chal:{b1234}:{cer_id|sgn_id}          string  acct   5 min: webauthn.Config.ChallengeTTL's default (bff sets none)
//	    value   webauthn.Challenge JSON: purpose, jkt, account_id, session_id, subject, expires, session (go-webauthn). A login that
//	            names no account yet (NewCeremonyID("")) uses a random bucket.
//	    by      PutChallenge (SET PX: beginning again replaces it); TakeChallenge takes it (GETDEL)
//
//	{prefix}eph:{b1234}:{kind}:{id}               string  acct   the caller's, always positive (Put refuses none)
//	    value   a single-use value: Put stores it (claimScript: SET NX PX), Take consumes it (GETDEL). No caller but tests today.
//
//	{prefix}enr:{b1234}:{enr_id}                  hash    acct   expires_at + 24 h (enrollmentRetention) while live; 24 h once ended
//	    fields  id, account ("" for a decoy), jkt, label, ip, origin (passkey|contact), state, replaces, created_at, expires_at,
//	            limit_subject, otp, otp_tries, otp_exp, cooldown_until, cancel (keyed hash of the cancel token), verified_at,
//	            recovered_at, approved_by, approved_at, cancelled_by, cancelled_at, device_id, activated_at. expires_at is creation
//	            or approval + PAYCODE_ENROLLMENT_TTL (15 min), or after a recovery the cool-down's end (PAYCODE_RECOVERY_COOLDOWN,
//	            24 h) + 72 h (enrollReadyWindow, bff).
//	    by      createEnrollment (CreateEnrollment), setEnrollmentOTP (SetEnrollmentOTP), verifyEnrollment (VerifyEnrollment),
//	            recoverEnrollment (CheckRecovery, StartRecovery), approveEnrollment (ApproveEnrollment), cancelEnrollment
//	            (CancelEnrollment), activateEnrollment (ActivateEnrollment)
//
//	{prefix}enrollments:{b1234}:{acct_id}         zset    acct   the longest member's expires_at + 24 h: raised, never lowered
//	    members the live, visible (not unverified) enrollment ids, scored by expires_at
//	    by      the enrollment scripts above: ZADD on create (when visible), verify, recover and approve; ZREM when one ends; create
//	            and verify also drop expired members (ZREMRANGEBYSCORE)
//
//	{prefix}cchg:{b1234}:{cch_id}                 hash    acct   10 min: otpTTL (bff/signup.go), passed to PutContactChange; once
//	                                                             pending, applies_at + 72 h (contactChangeRetention)
//	    fields  account, session, old_contact, old_hash, new_contact, new_kind, new_hash, otp (keyed hash; "" once pending), tries
//	            (5), verified (0|1), state ("" | pending | applied | cancelled | failed), applies_at (the cool-down's end,
//	            PAYCODE_CONTACT_COOLDOWN), cancel (keyed hash of the old address's one-time cancel code; "" once spent),
//	            applied_at, cancelled_by (contact | device:<id> | system), cancelled_at
//	    by      PutContactChange (MULTI: HSET, PEXPIRE); verifyOTP (VerifyContactChangeOTP); pendContact (PendContactChange);
//	            applyContact (ChangeContact); endContact (EndContactChange)
//
//	{prefix}wallet:{b1234}:{acct_id}              hash    acct   none (durable)
//	    fields  balance (minor units), currency, day (business day, yyyymmdd in PAYCODE_TIMEZONE), spent_day, topups_day,
//	            topup_count_day
//	    by      payScript (Move: payments and top-ups); refundScript (Move: refunds, balance only)
//
//	{prefix}ledger:{b1234}:{acct_id}              stream  acct   none (durable, never trimmed); entries below
//	    by      payScript, refundScript (Move)
//
//	{prefix}code:{b1234}:{code_name}              hash    acct   code TTL + 10 min: PAYCODE_CODE_TTL (60 s) + codeRetention
//	    fields  account, device, session, issued_at, expires_at (cut to the next code's issue + PAYCODE_CODE_GRACE, 5 s, when one is
//	            issued), status (live|used), used_at, payment. {code_name} is the keyed hash of the code's digits.
//	    by      issueCode (Issue, IssueCode; it also cuts the previous code's expires_at, naming its key from the live-code
//	            pointer); payScript (Move: status used, used_at, payment)
//
//	{prefix}livecode:{b1234}:{acct_id}            string  acct   PAYCODE_CODE_TTL (60 s)
//	    value   the {code_name} of the account's current code
//	    by      issueCode (Issue, IssueCode: SET PX)
//
//	{prefix}codelim:{b1234}:{acct_id}             hash    acct   until the limits are full again (at most a minute past the last
//	                                                             issuance), PEXPIRE
//	    fields  a (the account's GCRA theoretical arrival time, ms), k:<jkt> (the same per device key): PAYCODE_CODES_PER_MINUTE
//	            (20) a minute each, burst as many
//	    by      issueCode (Issue), before anything else is written
//
//	{prefix}jti:{b1234}:{jkt}:{jti_hash}          string  acct   65 s (tokens.DefaultDPoPMaxAge 60 s + DefaultDPoPMaxSkew 5 s)
//	    value   a marker unique to the claim; the DPoP proof of a customer call that needs a session, claimed in the account's
//	            slot (the proof is bound to the access token, so to its account); {jti_hash} as for dpop: below
//	    by      touchSessionJTI (TouchSessionJTI, from bff's requireSession: the claim and the session check in one step)
//
//	{prefix}pay:{b1234}:{pay_id}                  hash    acct   none (durable)
//	    fields  id, kind (payment|topup), account, terminal, store, amount, currency, refunded, order_ref, created_at, ledger (the
//	            ledger entry id), code (the code id: the first 16 characters of its name)
//	    by      payScript (Move: approved payments and top-ups only); refundScript (Move: HINCRBY refunded)
//
//	{prefix}rfd:{b1234}:{rfd_id}                  hash    acct   none (durable); the refund id carries the payment's bucket
//	    fields  id, payment, amount, created_at, ledger, terminal ("operator" for an operator's refund), store, account,
//	            currency (the last three since issue 14)
//	    by      refundScript (Move)
//
//	{prefix}rfds:{b1234}:{pay_id}                 list    acct   none (durable)
//	    members the payment's refund ids, oldest first
//	    by      refundScript (Move: RPUSH)
//
//	{prefix}idem:{b1234}:{term_id}:{key_hash}     hash    acct   24 h: idemTTL, set with the outcome
//	    fields  hash (keyed hash of the request body), outcome ("approved:<id>:<balance>" or "declined:<reason>"). {key_hash} is the
//	            keyed hash of the Idempotency-Key; the slot is that of the money moved.
//	    by      payScript, refundScript (Move), declines included
//
//	{prefix}events:{b1234}:{acct_id}              stream  acct   1 h after the last event: eventsTTL;
//	                                                             MAXLEN ~ 100 (eventsKept)
//	    by      publishEvent (Publish); payScript (Move: code.redeemed); issueCode (Issue: code.issued). Entries below.
//
//	{prefix}evch:{b1234}:{acct_id}                channel -      none (pub/sub: nothing is kept)
//	    message "<events stream id>\n<event JSON>", published by publishEvent (Publish), payScript (Move) and issueCode (Issue)
//	            with classic PUBLISH (a Cluster forwards it to every node); read by each replica's Hub, one PSUBSCRIBE
//	            "{prefix}evch:*" connection per replica (Hub.Subscribe is a place in it, not a connection)
//
//	Per bucket: the bucket's tag, shared by the accounts of the bucket.
//
//	{prefix}settle:{b1234}                        stream  bucket none (durable; paycode never trims it); entries below
//	    by      payScript, refundScript (Move), in the step that writes the ledger entry; read by the operator's accounting
//
//	Per store: the store's tag, {st:<store_id>} (store ids hold no brace).
//
//	{prefix}sales:{st:{store_id}}                 zset    store  none (durable, never trimmed by time); members pruned as below
//	    members "<ms, 13 digits>:<id>", all scored 0 (lexical order is time order): the ids of the store's approved payments,
//	            top-ups and refunds (pay_..., rfd_...). An entry is written with its movement's money script, concurrently,
//	            before the movement's intent is known; one whose id never became a record (a decline) is skipped by readers
//	            and removed by the first reader a minute later.
//	    by      appendSale (AppendSale, from Move, with WAIT like the money scripts; again from a replayed approval); Sales (ZREM
//	            of entries without a record, older than a minute)
//
//	{prefix}tsales:{st:{store_id}}:{term_id}      zset    store  as sales: above
//	    members the same entries, for the terminal's payments and top-ups only (not refunds)
//	    by      appendSale (AppendSale); Sales with a TerminalID (the same pruning)
//
//	Global: no tag.
//
//	{prefix}health:{random}                       string  own    10 s, and deleted at once
//	    by      Check (Open, and bff's /readyz): a write/read/delete round trip
//
//	{prefix}contact:{contact_hash}                string  own    none (durable)
//	    value   the id of the account that owns the contact (named by its keyed hash)
//	    by      CreateAccount, ChangeContact (SET NX); releaseContact (DEL if it still names the account)
//
//	{prefix}cchg-due                              zset    own    none; a member leaves when its change is applied or ends
//	    members contact change ids, scored by applies_at: the schedule every replica's worker reads
//	            (device.Service.ApplyDueContactChanges, every contactApplyEvery, 5 s)
//	    by      PendContactChange (ZADD, before the change is pending); ChangeContact, EndContactChange, DropDueContactChange
//	            (ZREM)
//
//	{prefix}dpop:{jkt}:{jti_hash}                 string  own    DPoP proofs: 65 s (tokens.DefaultDPoPMaxAge 60 s +
//	                                                             DefaultDPoPMaxSkew 5 s); terminal client assertions: until exp +
//	                                                             5 s (DefaultAssertionLeeway), 1 s to 5 min 5 s
//	    value   a marker unique to the claim; {jti_hash} is the hex of the first 16 bytes of SHA-256(jti); for a client assertion
//	            {jkt} is the terminal id
//	    by      ClaimJTI (Put: claimScript, SET NX PX), for tokens.DPoPVerifier and tokens.ClientAssertionVerifier
//
//	{prefix}rl:{name}:{subject}                   string  own    until the limit is full again: at most its period (1 min to 24 h),
//	                                                             SET EX
//	    value   the GCRA theoretical arrival time. Stored as rate:{prefix}rl:{name}:{subject}: Keys.RateLimit("rl:"+name, subject)
//	            gives the name and redis_rate v10 prepends "rate:".
//	    by      Allow (redis_rate's allowN script), from bff's Server.limit; the names, subjects and limits:
//	              terminal-token-ip               IP            30/min    refresh-ip              IP            3000/min
//	              refresh-key                     DPoP key jkt  12/min    ceremony-ip             IP            3000/min
//	              ceremony-key                    DPoP key jkt  10/min    ceremony-account        account id    30/min
//	              otp-ip, enroll-otp-ip           IP            10/h      verify-ip               IP            30/h
//	              otp-contact                     contact hash  3/10 min  enroll-contact          contact hash  3/10 min
//	              enroll-ip                       IP            10/h      enroll-account          account id    5/h
//	              enroll-recover-ip               IP            10/24 h   enroll-recover-enrollment enrollment id 10/24 h
//	              enroll-cancel-ip                IP            30/h      contact-change-account  account id    3/h
//	              pairing-ip                      IP            10/10 min pairing-global          "all"         120/min
//
//	{prefix}audit                                 stream  own    none (durable, never trimmed); entries below
//	    by      Audit (XADD)
//
//	{prefix}outbox                                stream  own    24 h after the last message (EXPIRE); MAXLEN ~ 1000; dev only
//	    entries m = notify.Message JSON
//	    by      AppendOutbox (notify.OutboxNotifier, only when PAYCODE_ENV=dev)
//
//	{prefix}signing-key:dev                       string  own    none (durable); dev only
//	    value   the dev access-token signing key (PEM), shared by every dev replica
//	    by      DevSigningKey (SET NX: the first replica's key wins)
//
//	{prefix}term:{term_id}                        hash    own    none (durable)
//	    fields  id, store, label, public_key (PEM), status (active|suspended), created_at, guesses (the guesses in the window
//	            that ends at guess_until: unknown codes and throttled calls), guess_until (ms)
//	    by      putTerminal (PutTerminal); setTerminalStatus (SetTerminalStatus); countGuess (CountGuess: the count, and the
//	            suspension at PAYCODE_GUESS_SUSPEND in the same step). bff caches it per replica for at most 1 s.
//
//	{prefix}pair:{{prefix}term:{term_id}}        hash    term   10 min: pairingTTL (bff/pairing.go), PEXPIRE at creation; deleted by
//	                                                             its first redemption, whatever its outcome
//	    fields  terminal (the id the redeeming terminal gets: a keyed hash of the pairing code, never the code), store, label,
//	            operator, created_at, expires_at. The hash tag is the terminal key's whole name, so the pairing and the
//	            terminal are in one slot ("term" in the slot column).
//	    by      createPairing (CreatePairing: refused if the pairing or the terminal exists); redeemPairing (RedeemPairing: DEL the
//	            pairing and HSET the terminal in one step)
//
//	{prefix}storename:{store_id}                  hash    own    none (durable)
//	    fields  en, ja (the store's display names, shown to shoppers in events and history), updated_at
//	    by      PutStoreName (HSET; the operator's PUT /v1/stores/{store_id})
//
//	{prefix}{nq}notify                            stream  {nq}   none; each entry is deleted once delivered or dead-lettered
//	    entry   m = the notify.Message, JSON sealed with AES-256-GCM under a key derived from PAYCODE_SECRET
//	    by      NotifyQueue.Notify (XADD, decoys too); consumer group "notify", one consumer per replica's NotifyWorker
//	            (XREADGROUP, XPENDING/XCLAIM after the backoff, XACK+XDEL)
//
//	{prefix}{nq}notify:dead                       list    {nq}   none; LTRIM to 1000
//	    values  "<stream id> <sealed message>" of messages out of attempts
//	    by      NotifyWorker (LPUSH)
//
//	{prefix}switches                              hash    own    none (durable)
//	    fields  signups, topups, new_devices (on|off), reauth_after (ms, 0: never), blocked_countries (sorted ISO 3166 codes)
//	    by      SetSwitch (HSET, canonical values only)
//
//	{prefix}swch                                  channel -      none (pub/sub: nothing is kept)
//	    message "" after each SetSwitch: every replica's Hub hears it and re-reads the switches at once (the
//	            one-second re-read remains when the hub is down)
//
// Stream entries and channel messages:
//
//	ledger    payments, top-ups: kind, amount (signed: payments negative), balance (after), payment, terminal, store,
//	          order_ref, currency, at (ms)
//	          refunds: kind (refund), amount, balance, payment, refund, terminal, store, currency, at
//	settle    ledger (the ledger entry id), account, kind, amount (signed as in the ledger), currency, payment,
//	          refund (refunds only), terminal, store, at (ms)
//	audit     type, account, device, actor (customer|operator:<name>|system), ip, request_id, time (RFC 3339),
//	          f.<name> for each extra field; never a secret
//	events    e = event JSON {type, data, time} (Publish also writes "id": ""; readers take the stream id)
//	evch      "<events stream id>\n<event JSON>"
//
// # The sales log (for the store's systems)
//
// A store's sales log is what the store's systems read: the terminal's list
// of today's sales, the operator's list of a store's payments, and (issue
// 15) merchant webhooks and support tools. Its functions:
//
//   - AppendSale(ctx, SaleRef) writes an entry; writing it again changes
//     nothing. Move calls it for every movement, concurrently with the
//     money script (an approved movement thus costs two commands but one
//     round trip's wait), and answers an approval only once the entry is
//     written: on a failure to write it, Move answers ErrUnconfirmed and the
//     terminal's retry (same Idempotency-Key) replays the approval and
//     writes the entry then, at the movement's own time. So a movement
//     answered approved is never missing from the log.
//   - Sales(ctx, SalesQuery) reads a page: a store's whole log, or one
//     terminal's payments and top-ups (TerminalID); From <= time < To;
//     newest first, or oldest first (Oldest: a consumer following the log);
//     Cursor = the previous page's SalesPage.Next. Each entry is read from
//     its payment or refund record (Sale: id, kind, payment id, store,
//     terminal, account, amount, refunded so far, currency, order
//     reference, time), so it is current (a refund shows on its payment at
//     once) and an intent whose movement never happened is never shown.
//     An entry may be written late (the retry of an answer that was lost):
//     a follower re-reads a short window behind its cursor.
//
// Later features add their keys to keys.go and to this table; TestDocKeyTable
// fails when a family of Keys is missing here.
//
// # Errors
//
// Methods wrap ErrUnavailable around every failure to reach Redis or to have
// it serve the command (see Unavailable): network errors and timeouts, a
// closed client or an exhausted pool, a cancelled or expired context, and
// replies such as LOADING, CLUSTERDOWN, TRYAGAIN, MASTERDOWN, READONLY and
// BUSY. The API answers it with 503. After a timeout a write may still have
// happened; the money path stays exactly-once through its idempotency records.
// A method that reads one record returns ErrNotFound when its key is missing
// (or expired, or taken); counters, indexes and optional fields read as their
// zero value instead (Guesses, RecoveryCodesLeft, Enrollments, ProbationUntil,
// Wallet), status setters report a missing record with false, and Move reports
// an unknown code or payment as a decline, not an error. Each method's comment
// names the other errors it returns. Callers compare with errors.Is and fail
// closed on anything else.
package store
