package testenv

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
)

// TierDirEnv names the environment variable that asks [Main] for a tier
// record: when it names a directory, each test binary writes there, after its
// tests, how many (sub)tests ran on each backend. make test sets it and ends
// with [SummarizeTiers] of the directory: one "TIER" line per backend.
const TierDirEnv = "RAPYER_TIER_DIR"

// tierCount counts the (sub)tests that asked a backend of [On] (and so of
// [Each]) for themselves.
type tierCount struct {
	Ran     int    `json:"ran"`           // ran to the end, passed or failed
	Failed  int    `json:"failed"`        // of Ran, failed
	Skipped int    `json:"skipped"`       // skipped, Missing included
	Missing int    `json:"missing"`       // of Skipped, for want of redis-server or redis-cli
	Why     string `json:"why,omitempty"` // the skip message of the first Missing
}

// tierRecord is what one test binary writes.
type tierRecord struct {
	Dir     string              `json:"dir"`               // the package's directory
	Tiers   map[Kind]*tierCount `json:"tiers"`             // by backend
	Version string              `json:"version,omitempty"` // of redis-server, when a real tier ran
	Server  string              `json:"server,omitempty"`  // the shared server's address
	Masters []string            `json:"masters,omitempty"` // the shared cluster's masters
	Private int                 `json:"private,omitempty"` // servers and clusters of StartServer and StartCluster
}

var tally = struct {
	sync.Mutex
	rec  tierRecord
	seen map[*testing.T]map[Kind]bool // a test counted once per backend, however many On calls
}{rec: tierRecord{Tiers: map[Kind]*tierCount{}}, seen: map[*testing.T]map[Kind]bool{}}

// countTier counts t on kind when t ends.
func countTier(t *testing.T, kind Kind) {
	tally.Lock()
	defer tally.Unlock()
	if tally.seen[t][kind] {
		return
	}
	if tally.seen[t] == nil {
		tally.seen[t] = map[Kind]bool{}
	}
	tally.seen[t][kind] = true
	t.Cleanup(func() {
		tally.Lock()
		defer tally.Unlock()
		c := tally.rec.Tiers[kind]
		if c == nil {
			c = &tierCount{}
			tally.rec.Tiers[kind] = c
		}
		switch {
		case t.Skipped():
			c.Skipped++
		case t.Failed():
			c.Ran++
			c.Failed++
		default:
			c.Ran++
		}
	})
}

// noteMissing records that a test of kind is skipped for want of binaries.
func noteMissing(kind Kind, why string) {
	tally.Lock()
	defer tally.Unlock()
	c := tally.rec.Tiers[kind]
	if c == nil {
		c = &tierCount{}
		tally.rec.Tiers[kind] = c
	}
	c.Missing++
	if c.Why == "" {
		c.Why = why
	}
}

// noteShared records the address of the shared server, or the masters of
// the shared cluster.
func noteShared(kind Kind, addrs []string) {
	tally.Lock()
	defer tally.Unlock()
	if kind == Server {
		tally.rec.Server = addrs[0]
	} else {
		tally.rec.Masters = addrs
	}
}

// notePrivate counts a server or cluster started by StartServer or
// StartCluster.
func notePrivate() {
	tally.Lock()
	defer tally.Unlock()
	tally.rec.Private++
}

// writeTierRecord writes the record of this binary under $RAPYER_TIER_DIR, if
// set. A failure to write is reported, not fatal: the tests have run.
func writeTierRecord() {
	dir := os.Getenv(TierDirEnv)
	if dir == "" {
		return
	}
	tally.Lock()
	rec := tally.rec
	tally.Unlock()
	rec.Dir, _ = os.Getwd()
	if rec.Server != "" || len(rec.Masters) > 0 {
		rec.Version = serverVersion()
	}
	buf, err := json.Marshal(rec)
	if err == nil {
		var f *os.File
		if f, err = os.CreateTemp(dir, "tiers-*.json"); err == nil {
			_, err = f.Write(buf)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "testenv: writing the tier record under %s: %v\n", dir, err)
	}
}

var versionRE = regexp.MustCompile(`v=(\S+)`)

// serverVersion is the version redis-server --version reports, or "".
func serverVersion() string {
	out, err := exec.Command(redisServerPath(), "--version").Output()
	if m := versionRE.FindSubmatch(out); err == nil && m != nil {
		return string(m[1])
	}
	return ""
}

// SummarizeTiers reads the records the test binaries wrote under dir and
// returns one line per backend, starting "TIER", saying how many (sub)tests
// ran on it, in how many packages, and on what; a tier no test could run on
// says SKIPPED loudly, with the reason.
func SummarizeTiers(dir string) ([]string, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "tiers-*.json"))
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return []string{"TIER: no test binary wrote a tier record (none uses testenv.Main, or every one crashed)"}, nil
	}
	var all tierTotal
	for _, p := range paths {
		buf, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		var rec tierRecord
		if err := json.Unmarshal(buf, &rec); err != nil {
			return nil, fmt.Errorf("%s: %v", p, err)
		}
		all.add(rec)
	}
	what := all.describe()
	var lines []string
	for _, k := range Kinds() {
		lines = append(lines, tierLine(k, what[k], all.counts[k], all.pkgs[k]))
	}
	if all.private > 0 {
		lines = append(lines, fmt.Sprintf("TIER private: %d redis-servers and clusters of tests' own (StartServer, StartCluster: kills, restarts, failovers)", all.private))
	}
	binaries := "test binaries"
	if len(paths) == 1 {
		binaries = "test binary"
	}
	return append(lines, fmt.Sprintf("TIER records: from %d %s", len(paths), binaries)), nil
}

// tierTotal adds up the records of every test binary.
type tierTotal struct {
	counts            map[Kind]*tierCount
	pkgs              map[Kind]int // packages where a test ran on the tier
	versions, servers []string
	masters, private  int
}

func (a *tierTotal) add(rec tierRecord) {
	if a.counts == nil {
		a.counts, a.pkgs = map[Kind]*tierCount{}, map[Kind]int{}
	}
	for k, c := range rec.Tiers {
		t := a.counts[k]
		if t == nil {
			t = &tierCount{}
			a.counts[k] = t
		}
		t.Ran += c.Ran
		t.Failed += c.Failed
		t.Skipped += c.Skipped
		t.Missing += c.Missing
		if t.Why == "" {
			t.Why = c.Why
		}
		if c.Ran > 0 {
			a.pkgs[k]++
		}
	}
	if rec.Version != "" && !slices.Contains(a.versions, rec.Version) {
		a.versions = append(a.versions, rec.Version)
	}
	if rec.Server != "" {
		a.servers = append(a.servers, rec.Server)
	}
	a.masters = max(a.masters, len(rec.Masters))
	a.private += rec.Private
}

// describe says what each backend was.
func (a *tierTotal) describe() map[Kind]string {
	sort.Strings(a.versions)
	sort.Strings(a.servers)
	version := "redis-server " + strings.Join(a.versions, ", ")
	if len(a.versions) == 0 {
		version = "redis-server"
	}
	at := ""
	switch len(a.servers) {
	case 0:
	case 1:
		at = " (" + a.servers[0] + ")"
	default:
		at = " (" + a.servers[0] + ", ...)"
	}
	return map[Kind]string{
		Mini:    "an embedded miniredis, fresh for each subtest",
		Server:  "a real " + version + " per package, on a free port" + at,
		Cluster: fmt.Sprintf("a real Redis Cluster of %d masters per package, %s", a.masters, version),
	}
}

// tierLine is the line of one backend.
func tierLine(k Kind, what string, c *tierCount, pkgs int) string {
	switch {
	case c == nil || c.Ran+c.Skipped == 0:
		return fmt.Sprintf("TIER %s: no test of this run asked for it", k)
	case c.Ran == 0 && c.Missing > 0:
		return fmt.Sprintf("TIER %s: SKIPPED: 0 subtests ran, %d skipped: %s", k, c.Skipped, c.Why)
	}
	packages := "packages"
	if pkgs == 1 {
		packages = "package"
	}
	line := fmt.Sprintf("TIER %s: %d subtests ran in %d %s, on %s", k, c.Ran, pkgs, packages, what)
	if c.Failed > 0 {
		line += fmt.Sprintf(", %d FAILED", c.Failed)
	}
	if c.Missing > 0 {
		line += fmt.Sprintf(", %d SKIPPED for want of redis-server or redis-cli", c.Missing)
	}
	if own := c.Skipped - c.Missing; own > 0 {
		line += fmt.Sprintf("; %d skipped by the test itself", own)
	}
	return line
}
