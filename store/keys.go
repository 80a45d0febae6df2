package store

import "hazardwatch/hazard"

// Every Redis key the app uses is built here and nowhere else (TestKeysInOnePlace fails on a key
// literal in another file), and every family is listed in keyFamilies, which docs/redis.md must
// match row for row (TestKeysDocumented). The {...} part is the Redis Cluster hash tag: keys that
// change together in one script or transaction share it.

// Accounts.
func userKey(uid string) string         { return "hw:user:{" + uid + "}" }
func userSessionsKey(uid string) string { return "hw:user:{" + uid + "}:sessions" }
func userReportsKey(uid string) string  { return "hw:user:{" + uid + "}:reports" }
func emailKey(email string) string      { return "hw:email:{" + email + "}" }
func googleKey(sub string) string       { return "hw:google:{" + sub + "}" }
func tokenKey(kind TokenKind, hash string) string {
	return "hw:" + string(kind) + ":{" + hash + "}"
}
func rateKey(scope, subject string) string { return "hw:rl:{" + scope + ":" + subject + "}" }

// draftKey is a report form parked while its author signs in or registers, by the browser's
// draft cookie (hashed: the cookie is a secret).
func draftKey(hash string) string { return "hw:draft:{" + hash + "}" }

const (
	usersKey      = "hw:users"
	adminsKey     = "hw:admins"
	sessionPrefix = "hw:sess:"
)

// Reports: the document and what lives in its slot.
func reportKey(rid string) string          { return "hw:report:{" + rid + "}" }
func reportConfirmsKey(rid string) string  { return "hw:report:{" + rid + "}:confirms" }
func reportFollowersKey(rid string) string { return "hw:report:{" + rid + "}:followers" }
func outboxKey(rid string) string          { return "hw:report:{" + rid + "}:outbox" }

// Reports: global indexes, each its own key (and slot).
func statusIndexKey(s hazard.Status) string { return "hw:reports:status:" + string(s) }
func geoKey(class string) string            { return "hw:geo:" + class }

// listKey is a status's reports by creation (type "": all types); lists merge them.
func listKey(s hazard.Status, typ string) string {
	if typ == "" {
		return "hw:list:" + string(s)
	}
	return "hw:list:" + string(s) + ":" + typ
}

// wordKey is the reports whose description or address has a word, by creation.
func wordKey(word string) string { return "hw:words:" + word }

// photoKey is the reports that have named a photo (read back against their documents).
func photoKey(hash string) string { return "hw:photo:" + hash }

// posKey is a shard of the position index; a report's shard is the first character of its id
// (32 hashes, small enough to stay compact).
func posKey(shard string) string { return "hw:pos:" + shard }
func posShard(rid string) string { return rid[:1] }

const (
	reportsByTimeKey = "hw:reports:time"
	expiryKey        = "hw:expiry"
	outboxDirtyKey   = "hw:outbox:dirty"
	eventsKey        = "hw:events"
)

// The map's per-cell counts: a block's hash per status, and per creation day.
func gridKey(tag string, status hazard.Status, day string) string {
	k := "hw:grid:{" + tag + "}:" + string(status)
	if day != "" {
		k += ":d" + day
	}
	return k
}

// gridActiveReadyKey marks the summed active class complete (outside gridScanPattern: a rebuild
// keeps it).
const gridActiveReadyKey = "hw:gridmeta:active-ready"

func gridSeenKey(tag string) string { return "hw:grid:{" + tag + "}:seen" }

// gridPointsKey is a finest-level block's reports, cell by cell (the edges of a view read them).
func gridPointsKey(tag string) string { return "hw:grid:{" + tag + "}:pts" }

// Patterns for `hazardwatch redis repair`, which walks the keyspace (never a request path).
const (
	gridScanPattern   = "hw:grid:{*"
	reportScanPattern = "hw:report:{*}"
	wordScanPattern   = "hw:words:*"
	photoScanPattern  = "hw:photo:*"
	// retiredPattern is what older versions kept and nothing reads now (per-type time indexes).
	retiredPattern  = "hw:reports:type:*"
	userScanPattern = "hw:user:{*}"
)

// Statistics: all in one slot ({stats}), because PFCOUNT over days needs them together.
func statsDayKey(day string) string       { return "hw:stats:{stats}:day:" + day }
func statsReportersKey(day string) string { return "hw:stats:{stats}:reporters:" + day }
func statsAppliedKey(day string) string   { return "hw:stats:{stats}:applied:" + day }

const (
	statsResolutionKey = "hw:stats:{stats}:resolution"
	statsAreasKey      = "hw:stats:{stats}:areas"
	statsNowKey        = "hw:stats:{stats}:now"
	statsFirstKey      = "hw:stats:{stats}:first_action"
)

// The review queue: every index in one slot ({queue}), so one read-only script intersects a tab
// with its filters, and one script moves a report between them (see queue.go).
func queueStatusKey(s hazard.Status) string { return "hw:queue:{queue}:status:" + string(s) }
func queueFlagKey(flag string) string       { return "hw:queue:{queue}:flag:" + flag }
func queueAssigneeKey(uid string) string    { return "hw:queue:{queue}:assignee:" + uid }
func queueTypeKey(t string) string          { return "hw:queue:{queue}:type:" + t }
func queueSeverityKey(sev string) string    { return "hw:queue:{queue}:severity:" + sev }

// queueBodyKey mirrors a body's report index (bodyReportsKey) in the queue's slot, so a staff
// member's queue is one more filter of the same script.
func queueBodyKey(bid string) string { return "hw:queue:{queue}:body:" + bid }

const (
	queueStateKey     = "hw:queue:{queue}:state"
	queueTimeKey      = "hw:queue:{queue}:time"
	queueGeoKey       = "hw:queue:{queue}:geo"
	queueReportersKey = "hw:queue:{queue}:reporters"
	queueScanPattern  = "hw:queue:{queue}:*"
)

// Staff: the accounts reports can be assigned to, and the moderators' response templates.
const (
	staffKey     = "hw:staff"
	templatesKey = "hw:templates"
)

// Area alerts: a user's alerts and waiting digest live in the user's slot (the 20-alert limit is
// one script there); the cell index and the digest schedule are global.
func userAlertsKey(uid string) string  { return "hw:user:{" + uid + "}:alerts" }
func userDigestKey(uid string) string  { return "hw:user:{" + uid + "}:digest" }
func alertCellKey(cell string) string  { return "hw:alerts:cell:" + cell }
func reportAskedKey(rid string) string { return "hw:report:{" + rid + "}:asked" }

const (
	alertDigestsKey     = "hw:alerts:digests"
	questionnaireDueKey = "hw:questionnaire:due"
)

// Work shared by the instances.
func lockKey(job string) string      { return "hw:lock:{" + job + "}" }
func throttleKey(name string) string { return "hw:throttle:{" + name + "}" }

// secretKey holds a key the instances share (the flash cookie's signing key), made once.
func secretKey(name string) string { return "hw:secret:{" + name + "}" }

const (
	auditKey     = "hw:audit"
	mailQueueKey = "hw:mail:queue"
)

func mailSentKey(key string) string    { return "hw:mail:sent:{" + key + "}" }
func mailSendingKey(key string) string { return "hw:mail:sending:{" + key + "}" }

// Workers: per consumer group, the retry records of failed messages and the markers of effects
// done once; one dead-letter stream for every group.
func workerRetryKey(group string) string     { return "hw:worker:{" + group + "}:retry" }
func workerDoneKey(group, key string) string { return "hw:worker:{" + group + "}:done:" + key }

const deadLetterKey = "hw:deadletter"

// API keys.
func apiKeyKey(hash string) string { return "hw:apikey:{" + hash + "}" }

const apiKeysIndex = "hw:apikeys"

// Bodies that fix hazards: a body's document, area and per-body indexes share its slot; the list
// and the cells of bounding boxes are global indexes.
func bodyKey(bid string) string        { return "hw:body:{" + bid + "}" }
func bodyAreaKey(bid string) string    { return "hw:body:{" + bid + "}:area" }
func bodyReportsKey(bid string) string { return "hw:body:{" + bid + "}:reports" }
func bodyPollingKey(bid string) string { return "hw:body:{" + bid + "}:polling" }
func bodyTokensKey(bid string) string  { return "hw:body:{" + bid + "}:tokens" }
func bodyWindowKey(bid string) string  { return "hw:body:{" + bid + "}:window" }
func bodyStaffKey(bid string) string   { return "hw:body:{" + bid + "}:staff" }
func bodyCellKey(cell string) string   { return "hw:bodies:cell:" + cell }

// Deliveries of reports to bodies: per report (in its slot), the job stream, and the lists
// moderators work through.
func reportDeliveriesKey(rid string) string { return "hw:report:{" + rid + "}:deliveries" }

const (
	bodiesKey           = "hw:bodies"
	deliveryQueueKey    = "hw:deliveries:queue"
	deliveriesFailedKey = "hw:deliveries:failed"
	unroutedKey         = "hw:deliveries:unrouted"
)

// The evictable geocoding cache, and (when it shares the main instance) the index that bounds it.
func cacheKey(ns, id string) string { return "cache:" + ns + ":" + id }

const cacheIndexKey = "cache:index"

// Channels.
const eventsChannel = "events:reports"

// keyFamilies is every family above, with placeholders for its variable parts.
var keyFamilies = []string{
	userKey("<uid>"), userSessionsKey("<uid>"), userReportsKey("<uid>"), emailKey("<email>"), googleKey("<subject>"),
	tokenKey(TokenReset, "<sha256(token)>"), tokenKey(TokenVerify, "<sha256(token)>"), tokenKey(TokenGuest, "<sha256(token)>"),
	rateKey("<scope>", "<sha256(subject)>"), draftKey("<sha256(cookie)>"),
	usersKey, adminsKey, sessionPrefix + "<id>",
	reportKey("<rid>"), reportConfirmsKey("<rid>"), reportFollowersKey("<rid>"), outboxKey("<rid>"),
	statusIndexKey("<status>"), listKey("<status>", ""), listKey("<status>", "<type>"), wordKey("<word>"), photoKey("<hash>"),
	geoKey("<class>"), posKey("<c>"),
	reportsByTimeKey, expiryKey, outboxDirtyKey, eventsKey,
	gridKey("<p>:<bx>:<by>", "<status>", ""), gridKey("<p>:<bx>:<by>", "<status>", "<yyyymmdd>"),
	gridSeenKey("<p>:<bx>:<by>"), gridPointsKey("17:<bx>:<by>"), gridActiveReadyKey,
	statsDayKey("<yyyy-mm-dd>"), statsReportersKey("<yyyy-mm-dd>"), statsAppliedKey("<yyyy-mm-dd>"), statsResolutionKey, statsAreasKey,
	statsNowKey, statsFirstKey,
	queueStatusKey("<status>"), queueFlagKey("<flag>"), queueAssigneeKey("<uid>"), queueTypeKey("<type>"), queueSeverityKey("<severity>"), queueBodyKey("<bid>"),
	queueStateKey, queueTimeKey, queueGeoKey, queueReportersKey, staffKey, templatesKey,
	lockKey("<job>"), throttleKey("<name>"), secretKey("<name>"), auditKey, mailQueueKey, mailSentKey("<key>"), mailSendingKey("<key>"),
	workerRetryKey("<group>"), workerDoneKey("<group>", "<key>"), deadLetterKey,
	apiKeyKey("<sha256(key)>"), apiKeysIndex,
	bodyKey("<bid>"), bodyAreaKey("<bid>"), bodyReportsKey("<bid>"), bodyPollingKey("<bid>"), bodyTokensKey("<bid>"), bodyWindowKey("<bid>"), bodyStaffKey("<bid>"),
	bodyCellKey("<level>:<x>:<y>"), bodiesKey, reportDeliveriesKey("<rid>"), deliveryQueueKey, deliveriesFailedKey, unroutedKey,
	userAlertsKey("<uid>"), userDigestKey("<uid>"), alertCellKey("<p>:<x>:<y>"), alertDigestsKey,
	reportAskedKey("<rid>"), questionnaireDueKey, tokenKey(TokenAnswer, "<sha256(token)>"), cacheKey("geo:fwd", "<sha256(limit, lang, text, near)>"), cacheKey("geo:rev", "<lat>,<lng>[:<lang>]"),
	cacheKey("geo:fwd:lock", "<id>"), cacheKey("geo:rev:lock", "<id>"), cacheIndexKey, eventsChannel,
}
