package testenv

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// waitFor bounds every wait of the harness for a condition (a process
// answering, a cluster agreeing on its slots). It is generous on purpose: a
// loaded CI machine is slow, and a wait returns as soon as its condition holds.
const waitFor = 30 * time.Second

// ServerProc is a redis-server process started by the harness. The zero value is
// not usable; get one from [StartServer] or [ClusterProc.Nodes].
type ServerProc struct {
	port int
	dir  string
	args []string // extra arguments, kept for Restart

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when the current process has exited and been reaped
}

// StartServer starts a private redis-server for t on a free port of
// 127.0.0.1, without persistence (--save "" --appendonly no), with its
// working directory in a t.TempDir. extraArgs are appended to the command
// line, for example "--maxmemory", "1mb". The process is killed when t ends.
// Use it for tests that kill or restart the server; other tests share the
// server of [On].
//
// StartServer fails t when redis-server cannot be started; a missing binary is
// a skip unless RAPYER_REQUIRE_REDIS=1.
func StartServer(t testing.TB, extraArgs ...string) *ServerProc {
	t.Helper()
	requireBinaries(t, Server)
	dir := t.TempDir()
	s, err := launch(dir, extraArgs)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() { _ = s.stop() })
	notePrivate()
	return s
}

// Addr returns the "host:port" the server listens on. It stays the same
// across [ServerProc.Restart].
func (s *ServerProc) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// Client returns a new *redis.Client for the server, with go-redis default
// options, closed when t ends.
func (s *ServerProc) Client(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: s.Addr()})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Kill sends SIGKILL to the server and waits until the process is gone.
// Killing a server that is not running does nothing.
func (s *ServerProc) Kill(t testing.TB) {
	t.Helper()
	if err := s.stop(); err != nil {
		t.Fatalf("testenv: kill %s: %v", s.Addr(), err)
	}
}

// Restart starts the server again on the same port, with the same arguments
// and working directory, and waits until it answers PING. A running server is
// killed first. Data is gone (nothing is persisted), except a cluster node's
// nodes.conf, so a restarted cluster node rejoins its cluster with its old
// identity.
func (s *ServerProc) Restart(t testing.TB) {
	t.Helper()
	if err := s.stop(); err != nil {
		t.Fatalf("testenv: restart %s: %v", s.Addr(), err)
	}
	if err := s.start(); err != nil {
		t.Fatalf("testenv: restart %s: %v", s.Addr(), err)
	}
}

// Pid returns the process id of the running server, or 0 when it is not running.
func (s *ServerProc) Pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil || s.exited() {
		return 0
	}
	return s.cmd.Process.Pid
}

// exited reports whether the current process has exited. s.mu must be held.
func (s *ServerProc) exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// launch starts a server in dir on a free port. A port somebody else took
// between our check and the server's bind (another test binary runs next to
// us) makes the process exit at once; then it tries another port.
func launch(dir string, extraArgs []string) (*ServerProc, error) {
	var lastErr error
	for range 8 {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		s := &ServerProc{port: port, dir: dir, args: extraArgs}
		err = s.start()
		if err == nil {
			return s, nil
		}
		lastErr = err
		if !errors.Is(err, errExitedEarly) {
			break
		}
	}
	return nil, lastErr
}

var errExitedEarly = errors.New("redis-server exited before answering PING")

// start starts the process and waits until it answers PING.
func (s *ServerProc) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil && !s.exited() {
		return fmt.Errorf("%s is already running", s.Addr())
	}
	if !register(s) {
		return errors.New("testenv: the test binary is shutting down, no new servers")
	}
	logPath := filepath.Join(s.dir, "redis.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close() // the child keeps its own descriptor
	args := []string{
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--daemonize", "no",
		"--dir", s.dir,
		"--logfile", "",
		// Replicas of a cluster: sync at once (the default waits 5s), and
		// let the master ping them every second, for a replica shows in
		// CLUSTER SLOTS only once its replication offset is above zero.
		"--repl-diskless-sync-delay", "0",
		"--repl-ping-replica-period", "1",
	}
	args = append(args, s.args...)
	cmd := exec.Command(redisServerPath(), args...)
	// *os.File for both streams: exec needs no copying goroutines.
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Dir = s.dir
	setParentDeathSignal(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	s.cmd, s.done = cmd, done

	if err := waitPing(s.Addr(), done); err != nil {
		if errors.Is(err, errExitedEarly) {
			return fmt.Errorf("%s: %w; log:\n%s", s.Addr(), err, logTail(logPath))
		}
		_ = cmd.Process.Kill()
		<-done
		return fmt.Errorf("%s: %w; log:\n%s", s.Addr(), err, logTail(logPath))
	}
	return nil
}

// stop kills the current process, if any, and waits until it is reaped.
func (s *ServerProc) stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil || s.exited() {
		return nil
	}
	if err := s.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	select {
	case <-s.done:
		return nil
	case <-time.After(waitFor):
		return fmt.Errorf("pid %d did not exit %v after SIGKILL", s.cmd.Process.Pid, waitFor)
	}
}

// waitPing waits until addr answers PING with PONG, the process exits, or
// waitFor passes.
func waitPing(addr string, exited <-chan struct{}) error {
	deadline := time.Now().Add(waitFor)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	var lastErr error
	for {
		select {
		case <-exited:
			return errExitedEarly
		default:
		}
		if lastErr = ping(addr); lastErr == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no PONG within %v: %v", waitFor, lastErr)
		}
		select {
		case <-exited:
			return errExitedEarly
		case <-tick.C:
		}
	}
}

// ping sends one inline PING over a fresh connection.
func ping(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if strings.TrimSpace(line) != "+PONG" {
		return fmt.Errorf("PING answered %q", strings.TrimSpace(line))
	}
	return nil
}

// logTail returns the last lines of a server log, for error messages.
func logTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// Ports are taken from 10000-22767, so that the cluster bus port (port+10000)
// stays below 32768, where Linux starts handing out ephemeral ports for
// outgoing connections. Both ports are checked by binding them.
const (
	portLow  = 10000
	portHigh = 22768
)

var ports struct {
	sync.Mutex
	handed map[int]bool // never hand out a port twice in one binary
}

// freePort returns a port p of 127.0.0.1 such that p and p+10000 are free now.
func freePort() (int, error) {
	ports.Lock()
	defer ports.Unlock()
	if ports.handed == nil {
		ports.handed = make(map[int]bool)
	}
	for range 1000 {
		p := portLow + rand.IntN(portHigh-portLow)
		if ports.handed[p] || !canListen(p) || !canListen(p+10000) {
			continue
		}
		ports.handed[p] = true
		return p, nil
	}
	return 0, errors.New("testenv: no free port pair (p, p+10000) found on 127.0.0.1")
}

func canListen(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	_ = l.Close()
	return true
}

// The registry of every process this binary started, for Main to stop.
var registry struct {
	sync.Mutex
	servers  map[*ServerProc]struct{}
	tempDirs []string // directories of shared servers, removed by stopAll
	closed   bool
}

// register records s for stopAll; false once stopAll has run.
func register(s *ServerProc) bool {
	registry.Lock()
	defer registry.Unlock()
	if registry.closed {
		return false
	}
	if registry.servers == nil {
		registry.servers = make(map[*ServerProc]struct{})
	}
	registry.servers[s] = struct{}{}
	return true
}

// stopAll kills every server this binary started and removes the temporary
// directories of the shared ones. Servers cannot be started afterwards.
func stopAll() error {
	registry.Lock()
	registry.closed = true
	servers := registry.servers
	registry.servers = nil
	dirs := registry.tempDirs
	registry.tempDirs = nil
	registry.Unlock()

	var errs []error
	for s := range servers {
		if err := s.stop(); err != nil {
			errs = append(errs, fmt.Errorf("stop %s: %w", s.Addr(), err))
		}
	}
	for _, d := range dirs {
		if err := os.RemoveAll(d); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// sharedTempDir makes a directory that lives until stopAll.
func sharedTempDir(pattern string) (string, error) {
	d, err := os.MkdirTemp("", pattern)
	if err != nil {
		return "", err
	}
	registry.Lock()
	registry.tempDirs = append(registry.tempDirs, d)
	registry.Unlock()
	return d, nil
}
