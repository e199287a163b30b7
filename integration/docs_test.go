package integration

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
)

// The documentation's examples are tested as a reader runs them: every
// Caddyfile block is formatted and adapts, and every shell and Python
// block that talks to a server is run against a real Caddy process started
// with the Caddyfile the text gives for it. docs/development.md describes
// the rules in reader's terms.

// The ports the docs use; the test moves them to free ones.
const (
	docHTTPPort  = "8080"
	docHTTPSPort = "8443"
	docAdminPort = "2019" // Caddy's default admin endpoint
)

// docShellCommands are the commands of shell blocks that build or set up
// things rather than talk to a server; they are not run. A shell block
// without curl must consist of these only.
var docShellCommands = []string{
	"go run ./cmd/caddy run --config Caddyfile.example",
	"go test -race -count=1 ./...",
	"go test -run '^$' -fuzz",
	"go tool xcaddy build v2.11.9 --with github.com/caddy-restauth/caddy-restauth@v0.0.0=.",
	"xcaddy build v2.11.9 --with github.com/caddy-restauth/caddy-restauth",
	"export CURL_CA_BUNDLE=~/.local/share/caddy/pki/authorities/local/root.crt",
	"export REQUESTS_CA_BUNDLE=$CURL_CA_BUNDLE",
	"openssl genpkey ",
	"scripts/fuzz.sh",
	"caddy hash-password",
	"caddy rest-auth ",
	"caddy validate --config",
}

// docBlock is one fenced block of a Markdown file.
type docBlock struct {
	file   string // relative to the repository root
	line   int    // line of the opening fence
	lang   string
	text   string
	marker string // the HTML comment on the line before the fence, if any
}

func (b docBlock) where() string { return fmt.Sprintf("%s:%d", b.file, b.line) }

var docMarker = regexp.MustCompile(`^<!--\s*(.*?)\s*-->$`)

// readDocBlocks returns the fenced blocks of a Markdown file in order.
func readDocBlocks(t *testing.T, root, file string) []docBlock {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, file))
	if err != nil {
		t.Fatal(err)
	}
	var blocks []docBlock
	var cur *docBlock
	prev := ""
	for i, line := range strings.Split(string(data), "\n") {
		switch {
		case cur == nil && strings.HasPrefix(line, "```"):
			cur = &docBlock{file: file, line: i + 1, lang: strings.TrimSpace(strings.TrimPrefix(line, "```"))}
			if m := docMarker.FindStringSubmatch(strings.TrimSpace(prev)); m != nil {
				cur.marker = m[1]
			}
		case cur != nil && strings.TrimSpace(line) == "```":
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			cur.text += line + "\n"
		}
		prev = line
	}
	if cur != nil {
		t.Fatalf("%s: unclosed code fence", cur.where())
	}
	return blocks
}

// repoRoot is the directory holding go.mod, wherever the test runs from.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test's directory")
		}
		dir = parent
	}
}

// docFiles are README.md and docs/*.md.
func docFiles(t *testing.T, root string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	out := []string{"README.md"}
	for _, f := range files {
		rel, _ := filepath.Rel(root, f)
		out = append(out, rel)
	}
	return out
}

// TestDocs checks every example of the README and docs/.
func TestDocs(t *testing.T) {
	root := repoRoot(t)
	for _, file := range docFiles(t, root) {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".md"), func(t *testing.T) {
			checkDocLinks(t, root, file)
			runDocFile(t, root, readDocBlocks(t, root, file))
		})
	}
}

// runDocFile checks one file's blocks in order; client blocks run against
// the server the text last set up.
func runDocFile(t *testing.T, root string, blocks []docBlock) {
	var server *docServer
	for _, b := range blocks {
		if strings.HasPrefix(b.marker, "server:") {
			name := strings.TrimSpace(strings.TrimPrefix(b.marker, "server:"))
			server.run()
			server = newDocServer(t, root, name, readFile(t, filepath.Join(root, name)))
		}
		switch b.lang {
		case "caddyfile":
			if checkDocCaddyfile(t, b) {
				server.run()
				server = newDocServer(t, root, b.where(), b.text)
			}
		case "sh", "console", "python":
			if !docTalksToServer(b) {
				checkDocSetupCommands(t, b)
				continue
			}
			if server == nil {
				t.Errorf("%s: talks to a server, but no runnable Caddyfile (sites on localhost) comes before it", b.where())
				continue
			}
			server.add(b)
		}
	}
	server.run()
}

// checkDocCaddyfile checks that a Caddyfile block is formatted and adapts,
// and reports whether it is runnable: every site in it is on localhost.
func checkDocCaddyfile(t *testing.T, b docBlock) bool {
	t.Helper()
	body := b.text
	if b.marker == "fragment" {
		body = "example.com {\n" + indentTabs(body) + "}\n"
	}
	if formatted := string(caddyfile.Format([]byte(body))); formatted != body {
		t.Errorf("%s: caddy fmt changes this block; it wants:\n%s", b.where(), formatted)
	}
	if _, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(body), map[string]any{"filename": b.where()}); err != nil {
		t.Errorf("%s: does not adapt: %v", b.where(), err)
		return false
	} else if len(warnings) > 0 {
		t.Errorf("%s: adapts with warnings: %v", b.where(), warnings)
	}
	if b.marker == "fragment" {
		return false
	}
	serverBlocks, err := caddyfile.Parse(b.where(), []byte(body))
	if err != nil {
		t.Errorf("%s: %v", b.where(), err)
		return false
	}
	sites := 0
	for _, sb := range serverBlocks {
		for _, key := range sb.Keys {
			addr, err := httpcaddyfile.ParseAddress(key.Text)
			if err != nil || addr.Host != "localhost" {
				return false
			}
			sites++
		}
	}
	return sites > 0
}

func indentTabs(s string) string {
	var b strings.Builder
	for _, line := range strings.SplitAfter(s, "\n") {
		if strings.TrimSpace(line) != "" {
			b.WriteString("\t")
		}
		b.WriteString(line)
	}
	return b.String()
}

// docTalksToServer reports whether a client block sends requests.
func docTalksToServer(b docBlock) bool {
	if b.lang == "python" {
		return true
	}
	return regexp.MustCompile(`(^|[\s$(|])curl\s`).MatchString(b.text)
}

// checkDocSetupCommands checks that a shell block that is not run holds
// only commands this test knows.
func checkDocSetupCommands(t *testing.T, b docBlock) {
	t.Helper()
	if b.lang == "python" {
		t.Errorf("%s: a python block that talks to no server", b.where())
		return
	}
	for _, cmd := range docCommands(b.text) {
		known := false
		for _, k := range docShellCommands {
			if strings.HasPrefix(cmd.text, k) {
				known = true
			}
		}
		if !known {
			t.Errorf("%s: command %q is neither run against a server nor one of the known setup commands (docShellCommands)", b.where(), cmd.text)
		}
	}
}

// docCommand is one logical shell command (continuation lines joined),
// its line within the block, and the status its `# NNN` comment expects.
type docCommand struct {
	text   string // without the trailing comment
	source string // as written, lines joined with newlines
	offset int    // 0-based line within the block
	want   string // "" when no status is given
}

var docStatusComment = regexp.MustCompile(`\s+#\s*(\d{3})\b.*$`)

func docCommands(text string) []docCommand {
	var out []docCommand
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		start := i
		source := lines[i]
		for strings.HasSuffix(strings.TrimRight(lines[i], " "), "\\") && i+1 < len(lines) {
			i++
			source += "\n" + lines[i]
		}
		trimmed := strings.TrimSpace(source)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		c := docCommand{text: trimmed, source: source, offset: start}
		if m := docStatusComment.FindStringSubmatchIndex(source); m != nil {
			c.want = source[m[2]:m[3]]
			c.text = strings.TrimSpace(source[:m[0]])
		}
		out = append(out, c)
	}
	return out
}

// docServer is a Caddy process running one Caddyfile of the docs, and the
// client blocks to run against it.
type docServer struct {
	t       *testing.T
	name    string
	proc    *caddyProcess
	dir     string // the clients' working directory
	caCert  string
	ports   *strings.Replacer
	clients []docBlock
}

// newDocServer rewrites the Caddyfile onto free loopback ports and a fresh
// data directory; the process starts when the first client block runs.
func newDocServer(t *testing.T, root, name, config string) *docServer {
	t.Helper()
	p := newCaddyProcess(t, "")
	s := &docServer{t: t, name: name, proc: p, dir: t.TempDir()}
	s.caCert = filepath.Join(p.dir, "data", "caddy", "pki", "authorities", "local", "root.crt")
	s.ports = strings.NewReplacer(
		"localhost:"+docHTTPPort, fmt.Sprintf("localhost:%d", p.HTTPPort),
		"localhost:"+docHTTPSPort, fmt.Sprintf("localhost:%d", p.HTTPSPort),
		"localhost:"+docAdminPort, p.adminAddr,
	)
	global := fmt.Sprintf("\tadmin %s\n\thttp_port %d\n\thttps_port %d\n\tdefault_bind 127.0.0.1\n\tskip_install_trust\n\tgrace_period 1s\n",
		p.adminAddr, p.HTTPPort, p.HTTPSPort)
	var kept []string
	for _, line := range strings.Split(config, "\n") {
		switch strings.Fields(line + " x")[0] {
		case "admin", "http_port", "https_port", "skip_install_trust":
			continue // set above
		}
		kept = append(kept, line)
	}
	// The global options block is the first block when it has no address.
	at := -1
	for i, line := range kept {
		if trimmed := strings.TrimSpace(line); trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		} else if trimmed == "{" {
			at = i + 1
		}
		break
	}
	if at < 0 {
		kept = append([]string{"{", global + "}"}, kept...)
	} else {
		kept = append(kept[:at], append([]string{strings.TrimSuffix(global, "\n")}, kept[at:]...)...)
	}
	config = s.ports.Replace(strings.Join(kept, "\n"))
	config = strings.ReplaceAll(config, "root * example/site", "root * "+filepath.Join(root, "example", "site"))
	if err := os.WriteFile(p.config, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *docServer) add(b docBlock) { s.clients = append(s.clients, b) }

// run starts Caddy and runs the client blocks in document order as one
// shell session (Python blocks are run from it), then checks every status.
func (s *docServer) run() {
	if s == nil || len(s.clients) == 0 {
		return
	}
	t := s.t
	defer s.proc.Stop()
	t.Run(filepath.Base(s.name), func(t *testing.T) {
		python := docPython(t, s.clients)
		s.proc.t = t
		s.proc.Start()
		s.waitHTTPS(t)
		statuses := filepath.Join(s.dir, "statuses")
		var script strings.Builder
		script.WriteString(docShellPrelude)
		var expected []string
		for n, b := range s.clients {
			if b.lang == "python" {
				file := filepath.Join(s.dir, fmt.Sprintf("block%d.py", n))
				if err := os.WriteFile(file, []byte(s.ports.Replace(b.text)), 0o600); err != nil {
					t.Fatal(err)
				}
				fmt.Fprintf(&script, "__where=%q\n%s %q\n", b.where(), python, file)
				continue
			}
			for _, c := range docCommands(b.text) {
				where := fmt.Sprintf("%s:%d", b.file, b.line+1+c.offset)
				fmt.Fprintf(&script, "__where=%q __want=%q\n%s\n", where, c.want, s.ports.Replace(c.text))
				if c.want != "" {
					expected = append(expected, where)
				}
			}
		}
		cmd := exec.Command("bash", "-c", script.String())
		cmd.Dir = s.dir
		cmd.Env = append(os.Environ(),
			"CURL_CA_BUNDLE="+s.caCert,
			"REQUESTS_CA_BUNDLE="+s.caCert,
			"RESTAUTH_DOC_STATUSES="+statuses,
		)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("the examples stopped (at the command named by the last __where): %v\n%s\ncaddy log:\n%s", err, out, s.proc.Log())
		}
		checkDocStatuses(t, statuses, expected, string(out))
	})
}

// docShellPrelude makes curl record each response's status, with the
// command it belongs to, in $RESTAUTH_DOC_STATUSES.
const docShellPrelude = `set -eo pipefail
curl() {
	local headers rc=0 code
	headers=$(mktemp)
	command curl -sS -D "$headers" "$@" || rc=$?
	code=$(awk '/^HTTP\// {c = $2} END {print c}' "$headers")
	rm -f "$headers"
	printf '%s\t%s\t%s\n' "$__where" "${__want:--}" "${code:-none}" >> "$RESTAUTH_DOC_STATUSES"
	return $rc
}
`

// checkDocStatuses checks the recorded statuses: a command with `# NNN`
// got NNN, every other curl got no error status.
func checkDocStatuses(t *testing.T, file string, expected []string, output string) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatalf("no curl ran: %v\n%s", err, output)
	}
	defer f.Close()
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), "\t")
		where, want, got := fields[0], fields[1], fields[2]
		seen[where] = true
		switch code, _ := strconv.Atoi(got); {
		case want != "-" && got != want:
			t.Errorf("%s: status %s, the docs say %s\n%s", where, got, want, output)
		case want == "-" && (code == 0 || code >= 400):
			t.Errorf("%s: status %s and no `# <status>` comment saying so\n%s", where, got, output)
		}
	}
	for _, where := range expected {
		if !seen[where] {
			t.Errorf("%s: a status is given, but the line sent no request", where)
		}
	}
}

// waitHTTPS waits until the local CA's root exists and an HTTPS site
// answers with a certificate it signed (sites without HTTPS are ready when
// the process is).
func (s *docServer) waitHTTPS(t *testing.T) {
	cfg := readFile(t, s.proc.config)
	if !strings.Contains(cfg, "localhost {") && !strings.Contains(cfg, "localhost, ") {
		return
	}
	eventually(t, 30*time.Second, func() (bool, string) {
		pem, err := os.ReadFile(s.caCert)
		if err != nil {
			return false, err.Error()
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
		resp, err := client.Get(fmt.Sprintf("https://localhost:%d/", s.proc.HTTPSPort))
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return true, ""
	})
}

// docPython is the python3 on PATH when a block needs it; without
// `requests` the test is skipped, unless CI is set (.ci/run installs
// python3-requests).
func docPython(t *testing.T, blocks []docBlock) string {
	t.Helper()
	needed := false
	for _, b := range blocks {
		needed = needed || b.lang == "python"
	}
	if !needed {
		return ""
	}
	python, err := exec.LookPath("python3")
	if err == nil {
		err = exec.Command(python, "-c", "import requests").Run()
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("python3 with requests is not on PATH (%v); .ci/run installs python3-requests", err)
		}
		t.Skipf("python3 with requests is not on PATH (%v; apt-get install python3-requests); under CI this test fails instead", err)
	}
	return python
}

var (
	docLink    = regexp.MustCompile(`\]\(([^)#\s]*)(#[^)\s]*)?\)`)
	docHeading = regexp.MustCompile(`(?m)^#{1,6} (.+)$`)
)

// checkDocLinks checks that every relative link of a Markdown file names
// a file that exists and, with #anchor, a heading of that file.
func checkDocLinks(t *testing.T, root, file string) {
	t.Helper()
	text := readFile(t, filepath.Join(root, file))
	for _, m := range docLink.FindAllStringSubmatch(text, -1) {
		target, anchor := m[1], strings.TrimPrefix(m[2], "#")
		if strings.Contains(target, "://") {
			continue
		}
		path := filepath.Join(root, file)
		if target != "" {
			path = filepath.Join(filepath.Dir(path), target)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%s: link %q: %v", file, m[0], err)
			continue
		}
		if anchor == "" {
			continue
		}
		found := false
		for _, h := range docHeading.FindAllStringSubmatch(string(data), -1) {
			found = found || docAnchor(h[1]) == anchor
		}
		if !found {
			t.Errorf("%s: link %q: no heading with anchor #%s in %s", file, m[0], anchor, target)
		}
	}
}

// docAnchor is the anchor GitHub gives a heading.
func docAnchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
		}
	}
	return b.String()
}
