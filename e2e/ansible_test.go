//go:build linux

package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/handoff-go/handoff/e2e/internal/harness"
	"github.com/handoff-go/handoff/e2e/internal/load"
)

// The fleet tests run examples/ansible/upgrade.yml with the real
// ansible-playbook against three "hosts" that are three demo servers on
// this machine, each under its own non-retrying load.

// demoNext is the good new build: the demo built with different flags,
// so that its bytes (and so which build a host runs) differ from the
// first deploy's while it behaves the same.
var demoNext string

func ansibleBuilds(dir string) []harness.Target {
	demoNext = filepath.Join(dir, "demo-next")
	return []harness.Target{{Out: demoNext, Pkg: "github.com/handoff-go/handoff/examples/demo",
		Flags: []string{"-ldflags", "-X main.moveConnsDefault=true"}}}
}

func TestAnsibleRolloutGoodBuild(t *testing.T) {
	f := startFleet(t, needAnsible(t), "-upgrade-timeout", "5s")
	play := f.play(t, "")
	res := f.stopLoad(t)
	if play.code != 0 {
		t.Fatalf("ansible-playbook: exit %d; want 0\n%s", play.code, play.output)
	}
	for i, h := range f.hosts {
		now := h.servedBy(t)
		if now == h.first {
			t.Errorf("%s: still served by pid %d; want a new generation", h.name, h.first)
		}
		h.wantBuild(t, demoNext)
		if res[i].Failed != 0 || res[i].PIDs[strconv.Itoa(now)] == 0 {
			t.Errorf("%s under load: %s; want no failure and answers from pid %d", h.name, res[i].Summary(), now)
		}
	}
}

// A bad build reaches only the second host: its inventory entry names a
// different artifact, as a per-host build variable would in a real
// inventory. Each kind of bad build is one entry: one that dies a second
// after Ready fails its probation, and `handoff upgrade` reports the
// rollback.
func TestAnsibleRolloutStopsOnBadBuild(t *testing.T) {
	tests := []struct {
		name  string
		build func() string
		// lostOnHost2 bounds host2's failures: a build that dies after it
		// served loses the requests in flight on it, one per client at most.
		lostOnHost2 int64
	}{
		{"exits at start", func() string { return bins.broken }, 0},
		{"never ready", func() string { return bins.stall }, 0},
		{"dies 1s after ready", func() string { return bins.diesAfterReady }, fleetClients},
	}
	playbook := needAnsible(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := startFleet(t, playbook, "-upgrade-timeout", "3s", "-probation", "3s")
			play := f.play(t, tc.build())
			res := f.stopLoad(t)
			if play.code == 0 || !strings.Contains(play.output, "upgrade failed on host2") {
				t.Fatalf("ansible-playbook: exit %d; want non-zero, failing on host2\n%s", play.code, play.output)
			}
			if strings.Contains(play.output, "host3") {
				t.Errorf("the play went on to host3 after host2 failed:\n%s", play.output)
			}
			one, two, three := f.hosts[0], f.hosts[1], f.hosts[2]
			if now := one.servedBy(t); now == one.first {
				t.Errorf("host1: still served by pid %d; want the new build's generation", now)
			}
			one.wantBuild(t, demoNext)
			for _, h := range []*fleetHost{two, three} {
				if now := h.servedBy(t); now != h.first {
					t.Errorf("%s: served by pid %d; want its first pid %d", h.name, now, h.first)
				}
				h.wantBuild(t, bins.demo)
			}
			if _, err := os.Stat(three.exe + ".prev"); err == nil {
				t.Errorf("host3: %s.prev exists; the play touched a host it should never have reached", three.exe)
			}
			for i, h := range f.hosts {
				allowed := int64(0)
				if h == two {
					allowed = tc.lostOnHost2
				}
				if res[i].Failed > allowed || res[i].Errors["refused"] != 0 {
					t.Errorf("%s under load: %s; want no refused connection and at most %d failed", h.name, res[i].Summary(), allowed)
				}
			}
		})
	}
}

// fleet is three demo servers, each with a load run, and an Ansible
// environment that writes only into the test's temporary directory.
type fleet struct {
	hosts    []*fleetHost
	runs     []*load.Run
	dir      string
	env      []string
	playbook string // the ansible-playbook executable
}

type fleetHost struct {
	*demoProc
	name  string
	first int
}

// needAnsible returns the ansible-playbook executable, or skips the test
// where there is none (or no handoff CLI for the playbook to run).
func needAnsible(t *testing.T) string {
	t.Helper()
	playbook, err := exec.LookPath("ansible-playbook")
	if err != nil {
		t.Skip("ansible-playbook not installed (apt-get install ansible-core)")
	}
	if bins.handoff == "" {
		t.Skip("cmd/handoff not built")
	}
	return playbook
}

// startFleet starts three demo servers with args, puts each under load,
// and returns once all three answer it.
func startFleet(t *testing.T, playbook string, args ...string) *fleet {
	t.Helper()
	f := &fleet{dir: t.TempDir(), playbook: playbook}
	f.env = ansibleEnv(f.dir)
	if err := os.MkdirAll(filepath.Join(f.dir, "home"), 0o700); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		d := startDemo(t, args...)
		f.hosts = append(f.hosts, &fleetHost{demoProc: d, name: fmt.Sprintf("host%d", i+1), first: d.first})
	}
	for _, h := range f.hosts {
		run := load.Start(load.Config{Addr: h.addr, Clients: fleetClients, Mode: load.Mixed,
			Pace: 2 * time.Millisecond, MaxDuration: 90 * time.Second, MaxRequests: 50_000})
		t.Cleanup(func() { run.Stop() })
		f.runs = append(f.runs, run)
	}
	for _, run := range f.runs {
		waitRequests(t, run, 50)
	}
	return f
}

// ansibleEnv keeps Ansible's files (temporary modules, caches, retry
// files) in dir and its output plain.
func ansibleEnv(dir string) []string {
	home := filepath.Join(dir, "home")
	return []string{
		"HOME=" + home,
		"ANSIBLE_HOME=" + filepath.Join(home, ".ansible"),
		"ANSIBLE_LOCAL_TEMP=" + filepath.Join(dir, "local-tmp"),
		"ANSIBLE_REMOTE_TEMP=" + filepath.Join(dir, "remote-tmp"),
		"ANSIBLE_CONFIG=" + filepath.Join(dir, "ansible.cfg"), // absent: defaults only
		"ANSIBLE_NOCOLOR=1",
		"ANSIBLE_FORCE_COLOR=0",
		"ANSIBLE_HOST_KEY_CHECKING=False",
		"ANSIBLE_RETRY_FILES_ENABLED=False",
		"ANSIBLE_PYTHON_INTERPRETER=/usr/bin/python3",
	}
}

// play writes the inventory, giving host2 badBuild as its new build if it
// is set, and runs the example playbook against it.
func (f *fleet) play(t *testing.T, badBuild string) cliResult {
	t.Helper()
	var inv strings.Builder
	inv.WriteString("[handoff_servers]\n")
	for _, h := range f.hosts {
		_, port, _ := strings.Cut(h.addr, ":")
		fmt.Fprintf(&inv, "%s handoff_port=%s handoff_control=%s handoff_binary=%s", h.name, port, h.control, h.exe)
		if h.name == "host2" && badBuild != "" {
			fmt.Fprintf(&inv, " handoff_build=%s", badBuild)
		}
		inv.WriteString("\n")
	}
	fmt.Fprintf(&inv, "\n[handoff_servers:vars]\nansible_connection=local\nhandoff_cli=%s\nhandoff_build=%s\n",
		bins.handoff, demoNext)
	invPath := filepath.Join(f.dir, "inventory.ini")
	if err := os.WriteFile(invPath, []byte(inv.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	book, err := filepath.Abs("../examples/ansible/upgrade.yml")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(f.dir, "play.out")
	start := time.Now()
	pid := startProc(t, f.playbook, []string{"-i", invPath, book}, out,
		procOpts{newGroup: true, env: f.env})
	rec := waitGone(t, pid, 120*time.Second)
	b, _ := os.ReadFile(out)
	t.Logf("ansible-playbook ended with %v after %v", rec.Status.ExitStatus(), time.Since(start).Round(time.Millisecond))
	if !rec.Status.Exited() {
		t.Fatalf("ansible-playbook: %v\n%s", rec, b)
	}
	if testing.Verbose() {
		t.Logf("ansible-playbook output:\n%s", b)
	}
	return cliResult{code: rec.Status.ExitStatus(), output: string(b)}
}

// stopLoad ends every host's load run and returns their results, host by
// host, logging each.
func (f *fleet) stopLoad(t *testing.T) []load.Result {
	res := make([]load.Result, len(f.runs))
	for i, run := range f.runs {
		res[i] = run.Stop()
		t.Logf("%s load: %s", f.hosts[i].name, res[i].Summary())
	}
	return res
}

// servedBy is the pid that answers GET / on the host now.
func (h *fleetHost) servedBy(t *testing.T) int {
	t.Helper()
	got := getPID(h.addr)
	pid, err := strconv.Atoi(got)
	if err != nil {
		t.Fatalf("%s: GET /: %s", h.name, got)
	}
	return pid
}

// wantBuild checks that the host's binary is a copy of build.
func (h *fleetHost) wantBuild(t *testing.T, build string) {
	t.Helper()
	got, err1 := os.ReadFile(h.exe)
	want, err2 := os.ReadFile(build)
	if err1 != nil || err2 != nil {
		t.Fatalf("%s: compare builds: %v %v", h.name, err1, err2)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s: %s is not a copy of %s", h.name, h.exe, filepath.Base(build))
	}
}

// fleetClients is how many clients load each host of the fleet.
const fleetClients = 4
