package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"hazardwatch/config"
	"hazardwatch/password"
	"hazardwatch/store"
)

const userUsage = `usage:
  hazardwatch user create --email E --password P --name N [--role citizen|moderator|admin | --role staff --body ID]
  hazardwatch user role --email E --role citizen|moderator|admin
  hazardwatch user role --email E --role staff --body ID`

// userCmd manages accounts against the Redis the environment names (CONTRACT.md).
func userCmd(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return usageError{userUsage}
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("user "+sub, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	email := fs.String("email", "", "email address")
	pw := fs.String("password", "", "password (10-128 characters)")
	name := fs.String("name", "", "display name")
	roleName := fs.String("role", "", "citizen, staff, moderator or admin")
	body := fs.String("body", "", "with --role staff: the id of the body they work for")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error() + "\n" + userUsage}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q\n%s", fs.Arg(0), userUsage)}
	}
	*email = strings.TrimSpace(*email)
	if msg := store.EmailProblem(*email); !msg.IsZero() {
		return usageError{"--email: " + msg.String()}
	}

	st, closeStore, err := openStore()
	if err != nil {
		return err
	}
	defer closeStore()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()

	switch sub {
	case "create":
		role := store.RoleCitizen
		if *roleName != "" {
			if role, err = store.ParseRole(*roleName); err != nil {
				return usageError{"--role: " + err.Error()}
			}
		}
		if err := staffBody(ctx, st, role, *body); err != nil {
			return err
		}
		n := store.CleanName(*name)
		if msg := store.NameProblem(n); !msg.IsZero() {
			return usageError{"--name: " + msg.String()}
		}
		if msg := password.Problem(*pw, *email, n); !msg.IsZero() {
			return usageError{"--password: " + msg.String()}
		}
		hash, err := password.Hash(*pw)
		if err != nil {
			return err
		}
		u := &store.User{Email: *email, Name: n, PasswordHash: hash, Role: role, Body: *body}
		if err := st.CreateUser(ctx, u); err != nil {
			if errors.Is(err, store.ErrEmailTaken) {
				return fmt.Errorf("an account with email %s already exists (use `hazardwatch user role` to change its role)", store.NormalizeEmail(*email))
			}
			return err
		}
		if err := st.Audit(ctx, store.AuditEntry{Actor: "cli", Action: "user.create", Target: u.ID, Note: string(u.Role)}); err != nil {
			fmt.Fprintln(stdout, "warning:", err)
		}
		fmt.Fprintf(stdout, "created %s user %s <%s> (id %s)\n", u.Role, u.Name, u.Email, u.ID)
		return nil
	case "role":
		role, err := store.ParseRole(*roleName)
		if err != nil {
			return usageError{"--role: " + err.Error()}
		}
		if err := staffBody(ctx, st, role, *body); err != nil {
			return err
		}
		u, err := st.UserByEmail(ctx, *email)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("no account has email %s", store.NormalizeEmail(*email))
		} else if err != nil {
			return err
		}
		if err := st.SetRole(ctx, u.ID, role, *body); err != nil {
			return err
		}
		note, now := string(u.Role)+" -> "+string(role), string(role)
		if role == store.RoleStaff {
			note += " (body " + *body + ")"
			now += " of body " + *body
		}
		if err := st.Audit(ctx, store.AuditEntry{Actor: "cli", Action: "user.role", Target: u.ID, Note: note}); err != nil {
			fmt.Fprintln(stdout, "warning:", err)
		}
		fmt.Fprintf(stdout, "%s <%s> is now %s (was %s)\n", u.Name, u.Email, now, u.Role)
		return nil
	default:
		return usageError{fmt.Sprintf("unknown user command %q\n%s", sub, userUsage)}
	}
}

// staffBody checks --body against --role: required for staff, naming a body that exists, and
// refused with any other role (it would be silently dropped).
func staffBody(ctx context.Context, st *store.Store, role store.Role, body string) error {
	switch {
	case role != store.RoleStaff && body != "":
		return usageError{"--body: only with --role staff"}
	case role != store.RoleStaff:
		return nil
	case body == "":
		return usageError{"--body: staff work for one body; give its id (see /admin/bodies)"}
	}
	if _, err := st.Body(ctx, body); errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no body has id %s", body)
	} else if err != nil {
		return err
	}
	return nil
}

// redisCmd is `hazardwatch redis repair`: rebuilds indexes from documents (run it with the admin
// Redis user: it uses SCAN).
func redisCmd(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) != 1 || args[0] != "repair" {
		return usageError{"usage: hazardwatch redis repair"}
	}
	st, closeStore, err := openStore()
	if err != nil {
		return err
	}
	defer closeStore()
	rep, err := st.Repair(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "repair:", rep)
	return nil
}

// openStore connects to the Redis the environment names (CONTRACT.md), for CLI commands.
func openStore() (*store.Store, func(), error) {
	cfg, err := config.Load()
	if err != nil {
		return nil, nil, err
	}
	rdb, err := store.Dial(cfg.Redis)
	if err != nil {
		return nil, nil, err
	}
	return store.New(rdb), func() { rdb.Close() }, nil
}
