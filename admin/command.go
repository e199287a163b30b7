package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/caddy-restauth/caddy-restauth/handlers"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "rest-auth",
		Usage: "token|session|user ... [--address <interface>] [--config <path> [--adapter <name>]] [--store <location>] [--json]",
		Short: "Manages rest_auth tokens and sessions through the admin API",
		Long: `
Lists, creates and revokes the API tokens of rest_auth, lists and ends
sessions, and logs users out everywhere, by calling the running Caddy's
admin API (admin.api.rest_auth) the way 'caddy reload' does: at --address,
or at the admin address of the config given by --config and --adapter, or
at the default admin address.

  caddy rest-auth token create --user alice [--description …] [--expires 30d] [--read-only] [--allow-ip 10.0.0.0/8]… [--role editor]…
  caddy rest-auth token list [--user alice]
  caddy rest-auth token revoke <id>
  caddy rest-auth session list --user alice
  caddy rest-auth user logout alice [--tokens]

Output is a table, or the API's JSON with --json. A new token's key is
printed once: it cannot be shown again.
`,
		CobraFunc: func(cmd *cobra.Command) {
			f := cmd.PersistentFlags()
			f.String("address", "", "Address of the administration listener, if different from config")
			f.StringP("config", "c", "", "Configuration file, to find the admin address in")
			f.StringP("adapter", "a", "", "Name of config adapter to apply")
			f.String("store", "", "The store to act on when several are in use (bolt path, redis address or memory name)")
			f.Bool("json", false, "Print the API's JSON instead of a table")
			cmd.AddCommand(tokenCommand(), sessionCommand(), userCommand())
		},
	})
}

func tokenCommand() *cobra.Command {
	token := &cobra.Command{Use: "token", Short: "Create, list and revoke API tokens"}

	create := &cobra.Command{
		Use:   "create --user <name>",
		Short: "Create an API token; its key is printed once",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f := cmd.Flags()
			user, _ := f.GetString("user")
			if user == "" {
				return errors.New("--user is required")
			}
			body := map[string]any{"user": user}
			if d, _ := f.GetString("description"); d != "" {
				body["description"] = d
			}
			if e, _ := f.GetString("expires"); e != "" {
				if days, ok := strings.CutSuffix(e, "d"); ok {
					n, err := strconv.Atoi(days)
					if err != nil {
						return fmt.Errorf("--expires %q: give a number of days (30d) or an RFC 3339 time", e)
					}
					body["expiration_days"] = n
				} else {
					body["expires"] = e
				}
			}
			if ro, _ := f.GetBool("read-only"); ro {
				body["write_enabled"] = false
			}
			if ips, _ := f.GetStringArray("allow-ip"); len(ips) > 0 {
				body["allowed_ips"] = ips
			}
			if roles, _ := f.GetStringArray("role"); len(roles) > 0 {
				body["roles"] = roles
			}
			var tok handlers.TokenView
			raw, err := call(cmd, http.MethodPost, "tokens", nil, body, &tok)
			if err != nil {
				return err
			}
			return output(cmd, raw, func(w io.Writer) {
				printTokens(w, []handlers.TokenView{tok})
				fmt.Fprintf(w, "\nkey: %s\n(shown once; store it now)\n", tok.Key)
			})
		},
	}
	create.Flags().String("user", "", "The token's owner (required)")
	create.Flags().String("description", "", "What the token is for")
	create.Flags().String("expires", "", "Lifetime in days (30d) or an RFC 3339 time; default: the token authenticator's default_ttl")
	create.Flags().Bool("read-only", false, "The token may only read (GET, HEAD, OPTIONS)")
	create.Flags().StringArray("allow-ip", nil, "Accept the token only from this address or network (repeatable)")
	create.Flags().StringArray("role", nil, "Give the token only this role of the user's (repeatable)")

	list := &cobra.Command{
		Use:   "list [--user <name>]",
		Short: "List API tokens (never their keys)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q := url.Values{}
			if u, _ := cmd.Flags().GetString("user"); u != "" {
				q.Set("user", u)
			}
			var res struct {
				Results []handlers.TokenView `json:"results"`
			}
			raw, err := call(cmd, http.MethodGet, "tokens", q, nil, &res)
			if err != nil {
				return err
			}
			return output(cmd, raw, func(w io.Writer) { printTokens(w, res.Results) })
		},
	}
	list.Flags().String("user", "", "Only this user's tokens")

	revoke := &cobra.Command{
		Use:   "revoke <id>",
		Short: "Revoke an API token",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			raw, err := call(cmd, http.MethodDelete, "tokens/"+url.PathEscape(args[0]), nil, nil, nil)
			if err != nil {
				return err
			}
			return output(cmd, raw, func(w io.Writer) { fmt.Fprintf(w, "revoked %s\n", args[0]) })
		},
	}
	token.AddCommand(create, list, revoke)
	return token
}

func sessionCommand() *cobra.Command {
	session := &cobra.Command{Use: "session", Short: "List a user's sessions"}
	list := &cobra.Command{
		Use:   "list --user <name>",
		Short: "List a user's sessions",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			user, _ := cmd.Flags().GetString("user")
			if user == "" {
				return errors.New("--user is required")
			}
			var res struct {
				Results []struct {
					ID       string    `json:"id"`
					Created  time.Time `json:"created"`
					LastSeen time.Time `json:"last_seen"`
					Expires  time.Time `json:"expires"`
				} `json:"results"`
			}
			raw, err := call(cmd, http.MethodGet, "sessions", url.Values{"user": {user}}, nil, &res)
			if err != nil {
				return err
			}
			return output(cmd, raw, func(w io.Writer) {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tCREATED\tLAST SEEN\tEXPIRES")
				for _, s := range res.Results {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.ID, stamp(&s.Created), stamp(&s.LastSeen), stamp(&s.Expires))
				}
				tw.Flush()
			})
		},
	}
	list.Flags().String("user", "", "Whose sessions (required)")
	session.AddCommand(list)
	return session
}

func userCommand() *cobra.Command {
	user := &cobra.Command{Use: "user", Short: "Log a user out everywhere"}
	logout := &cobra.Command{
		Use:   "logout <name> [--tokens]",
		Short: "End every session of the user and refuse every JWT issued to them so far",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			tokens, _ := cmd.Flags().GetBool("tokens")
			var res struct{ Sessions, Tokens int }
			raw, err := call(cmd, http.MethodPost, "users/"+url.PathEscape(args[0])+"/logout", nil, map[string]bool{"tokens": tokens}, &res)
			if err != nil {
				return err
			}
			return output(cmd, raw, func(w io.Writer) {
				fmt.Fprintf(w, "logged out %s: %d sessions ended, %d tokens revoked, earlier JWTs refused\n", args[0], res.Sessions, res.Tokens)
			})
		},
	}
	logout.Flags().Bool("tokens", false, "Revoke the user's API tokens too")
	user.AddCommand(logout)
	return user
}

func printTokens(w io.Writer, toks []handlers.TokenView) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tUSER\tKEY\tWRITE\tROLES\tCREATED\tEXPIRES\tLAST USED\tDESCRIPTION")
	for _, t := range toks {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%t\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.User, t.Display, t.WriteEnabled,
			strings.Join(t.Roles, ","), stamp(&t.Created), stamp(t.Expires), stamp(t.LastUsed), t.Description)
	}
	tw.Flush()
}

func stamp(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// output prints the raw JSON with --json, the table otherwise.
func output(cmd *cobra.Command, raw []byte, table func(io.Writer)) error {
	if asJSON, _ := cmd.Flags().GetBool("json"); asJSON {
		if len(raw) > 0 {
			_, err := os.Stdout.Write(append(bytes.TrimSpace(raw), '\n'))
			return err
		}
		return nil
	}
	table(os.Stdout)
	return nil
}

// call sends a request to the admin API's route and decodes the JSON
// answer into out (when not nil). A refusal is an error with the problem's
// detail.
func call(cmd *cobra.Command, method, route string, query url.Values, body, out any) ([]byte, error) {
	f := cmd.Flags()
	address, _ := f.GetString("address")
	config, _ := f.GetString("config")
	adapter, _ := f.GetString("adapter")
	addr, err := caddycmd.DetermineAdminAPIAddress(address, nil, config, adapter)
	if err != nil {
		return nil, fmt.Errorf("finding the admin address: %w", err)
	}
	if s, _ := f.GetString("store"); s != "" {
		if query == nil {
			query = url.Values{}
		}
		query.Set("store", s)
	}
	uri := base + route
	if len(query) > 0 {
		uri += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	resp, err := caddycmd.AdminAPIRequest(addr, method, uri, nil, rd)
	if err != nil {
		return nil, problemDetail(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("reading the answer: %w", err)
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return nil, fmt.Errorf("decoding the answer: %w", err)
		}
	}
	return raw, nil
}

// problemDetail turns the admin client's error ("caddy responded with
// error: HTTP 404: {problem+json}") into the problem's status and detail.
func problemDetail(err error) error {
	msg := err.Error()
	i := strings.Index(msg, "{")
	if i < 0 {
		return err
	}
	var p struct {
		Status int    `json:"status"`
		Detail string `json:"detail"`
		Error  string `json:"error"`
	}
	if json.Unmarshal([]byte(msg[i:]), &p) != nil {
		return err
	}
	switch {
	case p.Detail != "":
		return fmt.Errorf("%s (HTTP %d)", p.Detail, p.Status)
	case p.Error != "":
		return errors.New(p.Error)
	}
	return err
}
