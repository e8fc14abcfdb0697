package upgrader

import (
	"os"
	"strconv"

	"github.com/handoff-go/handoff/internal/runhooks"
	"github.com/handoff-go/handoff/internal/sdnotify"
	"github.com/handoff-go/handoff/listeners"
)

// systemd's file descriptor store (FileDescriptorStoreMax=): the service
// manager keeps a copy of each descriptor a service sends it with
// FDSTORE=1 and passes them all back, named, through LISTEN_FDS and
// LISTEN_FDNAMES when it next starts the service. Each generation stores
// its listeners there once it serves, so that after a crash with no
// generation left to hand over to (kill -9, an OOM kill) the restarted
// service inherits the very same sockets: connections that arrive in the
// gap wait in the listen backlog instead of being refused.
//
// systemd ignores an fd it already stores (it compares the open file, not
// the name: the first name given stays), so a generation that inherited
// the set from its predecessor stores the same sockets again at no cost.

// envFDStore is how many descriptors the service may store. systemd 254
// and later set it when FileDescriptorStoreMax= is; on older ones the unit
// sets it itself (Environment=FDSTORE=16), or nothing is stored.
const envFDStore = "FDSTORE"

// fdNameMax is the longest FDNAME= systemd accepts (FDNAME_MAX).
const fdNameMax = 255

// fdStore is what this generation knows of the store.
type fdStore struct {
	max int // 0: the service has no store
	// inherited names the members this generation inherited, from its
	// predecessor or from systemd: the names the store may hold, to be
	// removed once the set no longer has them.
	inherited []string
}

// newFDStore reads the store's size and, when there is a store, what the
// set inherited. Call it before any Listen: every member is then an
// inherited one.
func newFDStore(set *listeners.Set) fdStore {
	n, err := strconv.Atoi(os.Getenv(envFDStore))
	if err != nil || n <= 0 || os.Getenv(sdnotify.EnvSocket) == "" {
		return fdStore{}
	}
	fs := fdStore{max: n}
	for _, info := range set.List() {
		fs.inherited = append(fs.inherited, info.Name)
	}
	return fs
}

// validFDName reports whether systemd takes name as an FDNAME=
// (fdname_is_valid): 1 to 255 printable ASCII characters, no ':', which
// separates the names in LISTEN_FDNAMES.
func validFDName(name string) bool {
	if name == "" || len(name) > fdNameMax {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < ' ' || c > '~' || c == ':' {
			return false
		}
	}
	return true
}

// storeFDs puts every member of the set in the store under its name, and
// takes out the names this generation inherited but no longer serves.
// A member bound here, rather than inherited, replaces whatever the store
// held under its name. The control socket is not stored: a restarted
// service must find it stale (nobody listening) and bind it afresh, where
// one held by systemd would accept the new process's dial into a backlog
// that nobody serves.
//
// Failures are logged, not returned: the store is a safety net for a
// crash, and the service serves without it.
func (u *Upgrader) storeFDs() {
	if u.fdStore.max == 0 {
		return
	}
	var stored, removed, skipped []string
	fresh := map[string]bool{} // members bound here: their names may hold an older socket
	current := map[string]bool{}
	for _, info := range u.set.List() {
		current[info.Name] = true
		fresh[info.Name] = !info.Inherited
	}
	for _, name := range u.fdStore.inherited {
		if !current[name] && name != runhooks.ControlName && validFDName(name) {
			u.fdStoreSend("FDSTOREREMOVE=1\nFDNAME="+name, nil)
			removed = append(removed, name)
		}
	}
	err := u.set.Lend(func(entries []listeners.Entry, fds []int) error {
		for i, e := range entries {
			switch {
			case e.Name == runhooks.ControlName:
				continue
			case !validFDName(e.Name):
				skipped = append(skipped, e.Name)
				continue
			case fresh[e.Name]:
				u.fdStoreSend("FDSTOREREMOVE=1\nFDNAME="+e.Name, nil)
			}
			if u.fdStoreSend("FDSTORE=1\nFDNAME="+e.Name, fds[i:i+1]) {
				stored = append(stored, e.Name)
			}
		}
		return nil
	})
	if err != nil {
		u.log.Warn("fd store: listeners not stored", "err", err)
	}
	if len(skipped) > 0 {
		u.log.Warn("fd store: names systemd does not accept (empty, over 255 bytes, ':' or not printable ASCII); not stored",
			"names", skipped)
	}
	if len(stored) > u.fdStore.max {
		u.log.Warn("fd store: more listeners than FileDescriptorStoreMax= holds; systemd keeps the first ones",
			"listeners", len(stored), "max", u.fdStore.max)
	}
	u.log.Info("fd store", "stored", stored, "removed", removed)
}

// fdStoreSend sends one message to systemd and reports whether it went.
func (u *Upgrader) fdStoreSend(state string, fds []int) bool {
	if err := sdnotify.SendFDs(state, fds); err != nil {
		u.log.Warn("fd store", "err", err)
		return false
	}
	return true
}
