package store

// Key names, in one place. docs/redis.md explains each family: type, TTL, writer, eviction class
// and hash tag. The {...} part is the Redis Cluster hash tag: keys that change together share it.

const (
	sessionPrefix = "hw:sess:"
)

func userKey(uid string) string         { return "hw:user:{" + uid + "}" }
func userSessionsKey(uid string) string { return "hw:user:{" + uid + "}:sessions" }
func emailKey(email string) string      { return "hw:email:{" + email + "}" }
func googleKey(sub string) string       { return "hw:google:{" + sub + "}" }
func tokenKey(kind TokenKind, hash string) string {
	return "hw:" + string(kind) + ":{" + hash + "}"
}
func rateKey(scope, subject string) string { return "hw:rl:{" + scope + ":" + subject + "}" }

const usersKey = "hw:users"

func throttleKey(name string) string { return "hw:throttle:{" + name + "}" }
func secretKey(name string) string   { return "hw:secret:{" + name + "}" }

func reportKey(rid string) string         { return "hw:report:{" + rid + "}" }
func reportConfirmsKey(rid string) string { return "hw:report:{" + rid + "}:confirms" }
func userReportsKey(uid string) string    { return "hw:user:{" + uid + "}:reports" }
func statusIndexKey(s string) string      { return "hw:reports:status:" + s }
func typeIndexKey(t string) string        { return "hw:reports:type:" + t }
func geoKey(status string) string         { return "hw:geo:" + status }

const (
	reportsByTimeKey = "hw:reports:time"
	expiryKey        = "hw:expiry"
)
