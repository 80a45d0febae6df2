package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Role is what a user may do. Checked on the server for every route.
type Role string

const (
	RoleCitizen Role = "citizen"
	// RoleStaff works for one body (User.Body): a moderator's tools, on that body's reports only.
	RoleStaff     Role = "staff"
	RoleModerator Role = "moderator"
	RoleAdmin     Role = "admin"
)

// Roles lists every role, least privileged first.
var Roles = []Role{RoleCitizen, RoleStaff, RoleModerator, RoleAdmin}

// ParseRole accepts exactly the role names.
func ParseRole(s string) (Role, error) {
	for _, r := range Roles {
		if string(r) == s {
			return r, nil
		}
	}
	return "", fmt.Errorf("unknown role %q (want citizen, staff, moderator or admin)", s)
}

// AtLeast reports whether r includes the rights of min (admin > moderator > staff > citizen).
func (r Role) AtLeast(min Role) bool { return roleRank(r) >= roleRank(min) }

func roleRank(r Role) int {
	for i, x := range Roles {
		if x == r {
			return i
		}
	}
	return -1
}

// User is an account. PasswordHash is empty for accounts that only sign in with Google.
type User struct {
	ID              string
	Email           string
	Name            string
	PasswordHash    string
	Role            Role
	GoogleSub       string
	EmailVerified   bool
	Disabled        bool
	PasswordVersion int64  // bumped by every password change; voids reset links and other sessions
	NoMail          bool   // the user switched status mails off
	Lang            string // the language the user chose (i18n tag; "" = not chosen)
	NoShortcuts     bool   // a moderator switched the queue's keyboard shortcuts off
	Body            string // RoleStaff: the body they work for ("" for every other role)
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

var (
	// ErrNotFound means no such record.
	ErrNotFound = errors.New("store: not found")
	// ErrEmailTaken means another account already has the address.
	ErrEmailTaken = errors.New("store: email already registered")
	// ErrGoogleTaken means the Google account is linked to another user.
	ErrGoogleTaken = errors.New("store: google account already linked")
)

// NormalizeEmail is the form emails are compared and indexed in.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// CreateUser stores a new user and fills in ID and times. Email uniqueness holds under
// concurrency: the user's hash is written first under a fresh id, then the email is claimed with
// SET NX; the loser removes its hash. A crash in between leaves only an unreachable hash, never
// an email that points nowhere.
func (s *Store) CreateUser(ctx context.Context, u *User) error {
	now := time.Now().UTC()
	u.ID, u.CreatedAt, u.UpdatedAt = newID(), now, now
	u.Email = NormalizeEmail(u.Email)
	if u.Role == "" {
		u.Role = RoleCitizen
	}
	if err := s.rdb.HSet(ctx, userKey(u.ID), userFields(u)).Err(); err != nil {
		return fmt.Errorf("store: unable to create user: %w", err)
	}
	// One DEL per key: the keys live in different slots (a multi-key DEL is CROSSSLOT on a cluster).
	undo := func(keys ...string) {
		for _, k := range keys {
			s.rdb.Del(context.WithoutCancel(ctx), k)
		}
	}
	claimed, err := s.rdb.SetNX(ctx, emailKey(u.Email), u.ID, 0).Result()
	if err != nil || !claimed {
		undo(userKey(u.ID))
		if err != nil {
			return fmt.Errorf("store: unable to claim email: %w", err)
		}
		return ErrEmailTaken
	}
	if u.GoogleSub != "" {
		claimed, err = s.rdb.SetNX(ctx, googleKey(u.GoogleSub), u.ID, 0).Result()
		if err != nil || !claimed {
			undo(emailKey(u.Email), userKey(u.ID))
			if err != nil {
				return fmt.Errorf("store: unable to claim google account: %w", err)
			}
			return ErrGoogleTaken
		}
	}
	if err := s.rdb.ZAdd(ctx, usersKey, redis.Z{Score: float64(now.UnixMilli()), Member: u.ID}).Err(); err != nil {
		return fmt.Errorf("store: unable to index user: %w", err)
	}
	if u.Role == RoleAdmin {
		if err := s.rdb.SAdd(ctx, adminsKey, u.ID).Err(); err != nil {
			return fmt.Errorf("store: unable to index admin: %w", err)
		}
	}
	if u.Role.AtLeast(RoleModerator) {
		if err := s.rdb.SAdd(ctx, staffKey, u.ID).Err(); err != nil {
			return fmt.Errorf("store: unable to index staff: %w", err)
		}
	}
	if u.Role == RoleStaff && u.Body != "" {
		if err := s.rdb.SAdd(ctx, bodyStaffKey(u.Body), u.ID).Err(); err != nil {
			return fmt.Errorf("store: unable to index a body's staff: %w", err)
		}
	}
	return nil
}

// adminsKey holds the ids of admins, so "the last admin" is one SCARD away.

// AdminCount is how many accounts have the admin role.
func (s *Store) AdminCount(ctx context.Context) (int64, error) {
	return s.rdb.SCard(ctx, adminsKey).Result()
}

// RecentUsers lists the newest accounts.
func (s *Store) RecentUsers(ctx context.Context, n int64) ([]*User, error) {
	ids, err := s.rdb.ZRevRange(ctx, usersKey, 0, n-1).Result()
	if err != nil {
		return nil, fmt.Errorf("store: unable to list users: %w", err)
	}
	var out []*User
	for _, id := range ids {
		u, err := s.UserByID(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue
		} else if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, nil
}

func userFields(u *User) map[string]any {
	return map[string]any{
		"id": u.ID, "email": u.Email, "name": u.Name, "pwhash": u.PasswordHash, "role": string(u.Role),
		"google_sub": u.GoogleSub, "email_verified": boolStr(u.EmailVerified), "disabled": boolStr(u.Disabled),
		"pw_version": u.PasswordVersion, "created_at": u.CreatedAt.UnixMilli(), "updated_at": u.UpdatedAt.UnixMilli(),
		"lang": u.Lang, "body": u.Body,
	}
}

func boolStr(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func parseUser(m map[string]string) (*User, error) {
	if len(m) == 0 || m["id"] == "" {
		return nil, ErrNotFound
	}
	ms := func(k string) time.Time { n, _ := strconv.ParseInt(m[k], 10, 64); return time.UnixMilli(n).UTC() }
	pv, _ := strconv.ParseInt(m["pw_version"], 10, 64)
	return &User{
		ID: m["id"], Email: m["email"], Name: m["name"], PasswordHash: m["pwhash"], Role: Role(m["role"]),
		GoogleSub: m["google_sub"], EmailVerified: m["email_verified"] == "1", Disabled: m["disabled"] == "1",
		PasswordVersion: pv, CreatedAt: ms("created_at"), UpdatedAt: ms("updated_at"), NoMail: m["no_mail"] == "1", Lang: m["lang"],
		NoShortcuts: m["no_shortcuts"] == "1", Body: m["body"],
	}, nil
}

// UserByID loads a user.
func (s *Store) UserByID(ctx context.Context, id string) (*User, error) {
	if !validID(id) {
		return nil, ErrNotFound
	}
	m, err := s.rdb.HGetAll(ctx, userKey(id)).Result()
	if err != nil {
		return nil, fmt.Errorf("store: unable to load user: %w", err)
	}
	return parseUser(m)
}

// UserByEmail finds a user by address, case-insensitively, in O(1).
func (s *Store) UserByEmail(ctx context.Context, email string) (*User, error) {
	return s.userByIndex(ctx, emailKey(NormalizeEmail(email)))
}

// UserByGoogle finds the user linked to a Google subject id.
func (s *Store) UserByGoogle(ctx context.Context, sub string) (*User, error) {
	return s.userByIndex(ctx, googleKey(sub))
}

func (s *Store) userByIndex(ctx context.Context, key string) (*User, error) {
	id, err := s.rdb.Get(ctx, key).Result()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: unable to look up user: %w", err)
	}
	return s.UserByID(ctx, id)
}

// updateUser applies fields to an existing user (and bumps updated_at) in one transaction;
// bumpPassword also increments pw_version.
func (s *Store) updateUser(ctx context.Context, id string, fields map[string]any, bumpPassword bool) error {
	if !validID(id) {
		return ErrNotFound
	}
	key := userKey(id)
	fields["updated_at"] = time.Now().UnixMilli()
	err := s.rdb.Watch(ctx, func(tx *redis.Tx) error {
		n, err := tx.Exists(ctx, key).Result()
		if err != nil {
			return err
		}
		if n == 0 {
			return ErrNotFound
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.HSet(ctx, key, fields)
			if bumpPassword {
				p.HIncrBy(ctx, key, "pw_version", 1)
			}
			return nil
		})
		return err
	}, key)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("store: unable to update user: %w", err)
	}
	return err
}

// SetPassword replaces the password hash; every reset link issued before becomes void.
func (s *Store) SetPassword(ctx context.Context, id, hash string) error {
	return s.updateUser(ctx, id, map[string]any{"pwhash": hash}, true)
}

// ErrNoBody means a staff role named no body, or one that does not exist.
var ErrNoBody = errors.New("store: staff need an existing body")

// SetRole changes a user's role (and the admin, moderator and body-staff indexes,
// idempotently). body is the body a RoleStaff user works for, and must exist; other roles
// ignore it and drop any body they had.
func (s *Store) SetRole(ctx context.Context, id string, role Role, body string) error {
	if role != RoleStaff {
		body = ""
	} else if _, err := s.Body(ctx, body); errors.Is(err, ErrNotFound) {
		return ErrNoBody
	} else if err != nil {
		return err
	}
	prev, err := s.UserByID(ctx, id)
	if err != nil {
		return err
	}
	if err := s.updateUser(ctx, id, map[string]any{"role": string(role), "body": body}, false); err != nil {
		return err
	}
	if role == RoleAdmin {
		err = s.rdb.SAdd(ctx, adminsKey, id).Err()
	} else {
		err = s.rdb.SRem(ctx, adminsKey, id).Err()
	}
	if err != nil {
		return fmt.Errorf("store: unable to index admin: %w", err)
	}
	if role.AtLeast(RoleModerator) {
		err = s.rdb.SAdd(ctx, staffKey, id).Err()
	} else {
		err = s.rdb.SRem(ctx, staffKey, id).Err()
	}
	if err != nil {
		return fmt.Errorf("store: unable to index staff: %w", err)
	}
	if prev.Body != "" && prev.Body != body {
		if err := s.rdb.SRem(ctx, bodyStaffKey(prev.Body), id).Err(); err != nil {
			return fmt.Errorf("store: unable to index a body's staff: %w", err)
		}
	}
	if body != "" {
		if err := s.rdb.SAdd(ctx, bodyStaffKey(body), id).Err(); err != nil {
			return fmt.Errorf("store: unable to index a body's staff: %w", err)
		}
	}
	return nil
}

// Staff lists the moderators and admins (reports can be assigned to them), by name.
func (s *Store) Staff(ctx context.Context) ([]*User, error) {
	return s.usersIn(ctx, staffKey, func(u *User) bool { return u.Role.AtLeast(RoleModerator) })
}

// BodyStaff lists the staff of body bid (its reports can be assigned to them), by name.
func (s *Store) BodyStaff(ctx context.Context, bid string) ([]*User, error) {
	return s.usersIn(ctx, bodyStaffKey(bid), func(u *User) bool { return u.Role == RoleStaff && u.Body == bid })
}

// usersIn lists the enabled users of an index set that still pass keep (the set is repaired
// lazily: a role changed since is left out), by name.
func (s *Store) usersIn(ctx context.Context, key string, keep func(*User) bool) ([]*User, error) {
	ids, err := s.rdb.SMembers(ctx, key).Result()
	if err != nil {
		return nil, fmt.Errorf("store: unable to list staff: %w", err)
	}
	var out []*User
	for _, id := range ids {
		u, err := s.UserByID(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue
		} else if err != nil {
			return nil, err
		}
		if keep(u) && !u.Disabled {
			out = append(out, u)
		}
	}
	slices.SortFunc(out, func(a, b *User) int { return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.ID, b.ID)) })
	return out, nil
}

// SetDisabled blocks or unblocks sign-in; disabling also ends every session of the user.
func (s *Store) SetDisabled(ctx context.Context, id string, disabled bool) error {
	if err := s.updateUser(ctx, id, map[string]any{"disabled": boolStr(disabled)}, false); err != nil {
		return err
	}
	if disabled {
		return s.RevokeSessions(ctx, id, "")
	}
	return nil
}

// MarkEmailVerified records that the user proved they own the address.
func (s *Store) MarkEmailVerified(ctx context.Context, id string) error {
	return s.updateUser(ctx, id, map[string]any{"email_verified": "1"}, false)
}

// LinkGoogle links a Google account to a user. With takeOver (the account's email was never
// verified, so whoever registered it may not own it) the password is cleared, the email counts
// as verified and every session ends.
func (s *Store) LinkGoogle(ctx context.Context, id, sub string, takeOver bool) error {
	ok, err := s.rdb.SetNX(ctx, googleKey(sub), id, 0).Result()
	if err != nil {
		return fmt.Errorf("store: unable to link google account: %w", err)
	}
	if !ok {
		if owner, _ := s.rdb.Get(ctx, googleKey(sub)).Result(); owner != id {
			return ErrGoogleTaken
		}
	}
	fields := map[string]any{"google_sub": sub}
	if takeOver {
		fields["pwhash"] = ""
		fields["email_verified"] = "1"
	}
	if err := s.updateUser(ctx, id, fields, takeOver); err != nil {
		return err
	}
	if takeOver {
		return s.RevokeSessions(ctx, id, "")
	}
	return nil
}
