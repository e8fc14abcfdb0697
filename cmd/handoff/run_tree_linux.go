package main

import (
	"slices"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/handoff-go/handoff/internal/procfs"
)

// A generation is a child and everything it started. The supervisor is a
// child subreaper (PR_SET_CHILD_SUBREAPER), so what a child leaves behind
// when it exits (a grandchild after setsid, a daemon after a double fork)
// becomes the supervisor's own child rather than init's: nothing of a
// generation escapes the supervisor, and the reaper below reaps it all.
// Which generation a process belongs to is its cgroup's, where the
// supervisor can make one per generation; else what the supervisor saw of
// the ppid links in /proc while the process's parent lived (scanEvery),
// and for a process it never saw, the guess in attributeOrphan.
const (
	scanEvery = 200 * time.Millisecond // /proc walks, while a generation has no cgroup
	goneEvery = 50 * time.Millisecond  // how often what is left of a generation is counted
)

// becomeSubreaper makes the supervisor inherit its orphaned descendants.
func becomeSubreaper() error {
	return unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
}

// reapLoop reaps every child of the supervisor, its own children and the
// orphans it inherited, until quit is closed while it has none left.
func (s *supervisor) reapLoop() {
	for {
		pid, err := waitExited()
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.ECHILD:
			select {
			case <-s.kick: // a child was started
				continue
			case <-s.quit:
				return
			}
		case err != nil:
			s.log.Error("reaper stopped", "err", err)
			return
		}
		s.mu.Lock()
		c := s.children[pid]
		delete(s.children, pid)
		s.mu.Unlock()
		if c != nil {
			c.reap()
			go s.childExited(c)
			continue
		}
		s.procMu.Lock() // see signalPID
		var ws syscall.WaitStatus
		syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
		s.procMu.Unlock()
	}
}

// waitExited waits until a child of this process has exited and returns
// its pid, leaving it to be reaped: waitid(P_ALL, WEXITED|WNOWAIT).
func waitExited() (int, error) {
	var info struct { // siginfo_t as waitid fills it for SIGCHLD
		signo, errno, code, _ int32
		pid                   int32
		_                     [124]byte
	}
	_, _, e := unix.Syscall6(unix.SYS_WAITID, unix.P_ALL, 0, uintptr(unsafe.Pointer(&info)),
		unix.WEXITED|unix.WNOWAIT, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(info.pid), nil
}

func (c *child) isReaped() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reaped
}

// childExited follows a generation from its child's exit to its end:
// a draining one's leftovers are asked to stop too; the generation is
// forgotten once nothing of it is left.
func (s *supervisor) childExited(c *child) {
	s.childReaped(c)
	warned := false
	for {
		if c.cg == nil {
			s.scan() // its orphans are the supervisor's now: record whose they were, and what they start
		}
		left := s.members(c)
		if len(left) == 0 {
			break
		}
		if !warned {
			s.log.Warn("child exited; processes it started remain", "child", c.pid, "left", left)
			if c.isDraining() {
				s.signalRest(c, s.cfg.stopSignal)
			}
			warned = true
		}
		time.Sleep(goneEvery)
	}
	if c.cg != nil {
		if err := removeGroup(c.cg); err != nil {
			s.log.Warn("generation's cgroup not removed", "child", c.pid, "err", err)
		}
	}
	s.mu.Lock()
	delete(s.gens, c)
	s.mu.Unlock()
	if warned {
		s.log.Info("generation gone", "child", c.pid)
	}
	close(c.gone)
}

// removeGroup removes an emptied cgroup; the kernel may take a moment to
// let go of the last process that left it.
func removeGroup(g *cgroupGroup) error {
	var err error
	for range 20 {
		if err = g.remove(); err == nil {
			return nil
		}
		time.Sleep(goneEvery)
	}
	return err
}

func (c *child) isDraining() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.draining
}

// members lists the live processes of c's generation, c itself included
// until it exits.
func (s *supervisor) members(c *child) []int {
	if c.cg != nil {
		return c.cg.procs()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var pids []int
	for pid, start := range c.known {
		st, err := procfs.ReadStat(pid)
		if err != nil || st.Start != start || !st.Running() {
			if pid != c.pid {
				delete(c.known, pid) // gone, or the pid is someone else's now
			}
			continue
		}
		pids = append(pids, pid)
	}
	slices.Sort(pids)
	return pids
}

// drain asks c to stop and kills what is left of its generation after
// the drain timeout. It returns at once (gone tells when the generation
// is over) and does nothing the second time.
func (s *supervisor) drain(c *child) {
	c.mu.Lock()
	if c.draining {
		c.mu.Unlock()
		return
	}
	c.draining, c.state = true, childDraining
	reaped := c.reaped
	c.mu.Unlock()
	c.signal(s.cfg.stopSignal)
	if reaped {
		s.signalRest(c, s.cfg.stopSignal)
	}
	go func() {
		t := time.NewTimer(s.cfg.drainTimeout)
		defer t.Stop()
		select {
		case <-c.gone:
		case <-t.C:
			s.kill(c)
		}
	}()
}

// kill SIGKILLs all of c's generation, again and again for what forks
// meanwhile, and returns once nothing of it is left.
func (s *supervisor) kill(c *child) {
	if left := s.members(c); len(left) > 0 {
		c.mu.Lock()
		c.killed = left
		c.mu.Unlock()
		s.log.Warn("killing what is left of a generation", "child", c.pid, "pids", left)
	}
	c.mu.Lock()
	c.draining = true // nothing more to drain: the timer has nothing to do
	c.mu.Unlock()
	for {
		c.signal(syscall.SIGKILL)
		if c.cg != nil {
			c.cg.kill()
		} else {
			s.signalRest(c, syscall.SIGKILL)
		}
		select {
		case <-c.gone:
			return
		case <-time.After(goneEvery):
		}
	}
}

// signalRest sends sig to every process of c's generation but c itself.
func (s *supervisor) signalRest(c *child, sig syscall.Signal) {
	for _, pid := range s.members(c) {
		if pid != c.pid {
			s.signalPID(c, pid, sig)
		}
	}
}

// signalPID signals a process of c's generation. The reaper reaps
// orphans under procMu, so an orphan seen running here is still that
// process; any other pid is checked against the start time seen.
func (s *supervisor) signalPID(c *child, pid int, sig syscall.Signal) {
	s.procMu.Lock()
	defer s.procMu.Unlock()
	if c.cg == nil {
		c.mu.Lock()
		start, ok := c.known[pid]
		c.mu.Unlock()
		if st, err := procfs.ReadStat(pid); !ok || err != nil || st.Start != start {
			return
		}
	}
	syscall.Kill(pid, sig)
}

// scanLoop walks /proc while some generation has no cgroup.
func (s *supervisor) scanLoop() {
	t := time.NewTicker(scanEvery)
	defer t.Stop()
	for {
		select {
		case <-s.quit:
			return
		case <-t.C:
			s.scan()
		}
	}
}

// scan attributes every process below a generation without a cgroup to
// it, by its ppid links to a process already known to be of it.
func (s *supervisor) scan() {
	gens := s.uncgrouped()
	if len(gens) == 0 {
		return
	}
	all, err := procfs.All()
	if err != nil {
		s.log.Debug("walking /proc", "err", err)
	}
	byPID := make(map[int]procfs.Stat, len(all))
	for _, st := range all {
		byPID[st.PID] = st
	}
	owner := map[int]*child{}
	for _, c := range gens {
		c.mu.Lock()
		for pid, start := range c.known {
			if byPID[pid].Start == start {
				owner[pid] = c
			}
		}
		c.mu.Unlock()
	}
	self := s.self
	for _, st := range all {
		if _, ok := owner[st.PID]; ok || st.PID == self || !st.Running() {
			continue
		}
		if c := ownerOf(st, byPID, owner, self); c != nil {
			owner[st.PID] = c
			c.addKnown(st)
		} else if st.PPID == self {
			if c := attributeOrphan(st, gens); c != nil {
				owner[st.PID] = c
				c.addKnown(st)
			}
		}
	}
}

// ownerOf walks up from st to the first ancestor with a known
// generation, and attributes the whole way to it.
func ownerOf(st procfs.Stat, byPID map[int]procfs.Stat, owner map[int]*child, self int) *child {
	var path []procfs.Stat
	for range 64 {
		if c, ok := owner[st.PID]; ok {
			for _, p := range path {
				owner[p.PID] = c
				c.addKnown(p)
			}
			return c
		}
		path = append(path, st)
		parent, ok := byPID[st.PPID]
		if !ok || st.PPID <= 1 || st.PPID == self {
			return nil
		}
		st = parent
	}
	return nil
}

// attributeOrphan guesses the generation of a process the supervisor
// inherited before any walk saw it (its parent exited too soon): the one
// whose child leads its process group, else the newest one
// whose child has exited (an orphan appears when its parent exits), else
// the newest one that started before it.
func attributeOrphan(st procfs.Stat, gens []*child) *child {
	var exited, before *child
	for _, c := range gens {
		if st.PGRP == c.pid {
			return c
		}
		start := c.startTicks()
		if start > st.Start {
			continue
		}
		if before == nil || start >= before.startTicks() {
			before = c
		}
		if c.isReaped() && (exited == nil || start >= exited.startTicks()) {
			exited = c
		}
	}
	if exited != nil {
		return exited
	}
	return before
}

func (c *child) startTicks() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.known[c.pid]
}

func (c *child) addKnown(st procfs.Stat) {
	c.mu.Lock()
	c.known[st.PID] = st.Start
	c.mu.Unlock()
}

// uncgrouped lists the generations tracked through /proc.
func (s *supervisor) uncgrouped() []*child {
	s.mu.Lock()
	defer s.mu.Unlock()
	var gens []*child
	for c := range s.gens {
		if c.cg == nil {
			gens = append(gens, c)
		}
	}
	return gens
}
