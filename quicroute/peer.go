package quicroute

import (
	"net"
	"time"
)

// probeEvery is how often an idle peer is checked for being gone.
const probeEvery = 500 * time.Millisecond

// peer forwards to one other generation: a bounded queue drained by one
// writer goroutine, so the router never blocks on a slow or stuck peer.
type peer struct {
	gen       uint32
	conn      *net.UnixConn // nil while the generation is known gone
	q         chan packet
	done      chan struct{}
	deadUntil time.Time
}

// peerFor returns the live peer for gen, dialling its socket if need be,
// or nil when gen is this one's, out of range, or gone.
func (r *Router) peerFor(gen uint32) *peer {
	if gen == r.gen || gen > r.gen+1 || gen+maxBehind < r.gen || gen == 0 {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	if p, ok := r.peers[gen]; ok {
		if p.conn != nil {
			return p
		}
		if time.Now().Before(p.deadUntil) {
			return nil
		}
		delete(r.peers, gen)
	}
	addr := &net.UnixAddr{Name: r.opts.SocketPath(uint64(gen)), Net: "unixgram"}
	c, err := net.DialUnix("unixgram", nil, addr)
	if err != nil {
		r.peers[gen] = &peer{gen: gen, deadUntil: time.Now().Add(retryDead)}
		return nil
	}
	p := &peer{gen: gen, conn: c, q: make(chan packet, r.opts.QueueLen), done: make(chan struct{})}
	r.peers[gen] = p
	r.wg.Add(1)
	go r.write(p)
	r.log.Info("quic: forwarding to generation", "to", gen)
	return p
}

// send queues pk unless the peer stopped or its queue is full.
func (p *peer) send(pk packet) (queued, full bool) {
	select {
	case <-p.done:
		return false, false
	default:
	}
	select {
	case p.q <- pk:
		return true, false
	default:
		return false, true
	}
}

// stop ends the writer; called with the router's mu held.
func (p *peer) stop() {
	if p.conn == nil {
		return
	}
	select {
	case <-p.done:
	default:
		close(p.done)
		p.conn.Close() // unblocks a write in progress
	}
}

// write sends p's queue until it stops or the generation is gone; then
// what is left in the queue is counted as late.
// An idle peer gets an empty datagram every probeEvery, which fails once
// its process has closed its socket: a Unix datagram socket tells its
// sender nothing when the receiver goes, and the fd for a generation that
// is gone must not linger until a packet for it happens to arrive.
func (r *Router) write(p *peer) {
	defer r.wg.Done()
	probe := time.NewTicker(probeEvery)
	defer probe.Stop()
	busy := false
	for {
		var err error
		select {
		case <-p.done:
			r.drain(p)
			return
		case pk := <-p.q:
			_, err = p.conn.Write(pk.bytes())
			bufs.Put(pk.buf)
			busy = true
		case <-probe.C:
			if !busy {
				_, err = p.conn.Write(nil)
			}
			busy = false
		}
		if err != nil {
			r.gone(p, err)
			r.drain(p)
			return
		}
	}
}

// gone marks p's generation unreachable: its process closed its socket or
// died, and its packets go to this generation's transport from now on.
func (r *Router) gone(p *peer, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p.stop()
	if r.peers[p.gen] == p {
		r.peers[p.gen] = &peer{gen: p.gen, deadUntil: time.Now().Add(retryDead)}
	}
	r.log.Info("quic: generation gone; forwarding to it ends", "to", p.gen, "err", err)
}

func (r *Router) drain(p *peer) {
	for {
		select {
		case pk := <-p.q:
			bufs.Put(pk.buf)
			r.late.Add(1)
		default:
			return
		}
	}
}
