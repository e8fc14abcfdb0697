package quicroute

import (
	"errors"
	"net"
	"time"
)

// readShared reads the shared UDP socket until Retire or Close. Each
// packet lands at offset headerV6 of its buffer so that a forward can put
// its header in front without copying.
func (r *Router) readShared() {
	defer r.wg.Done()
	for {
		buf := bufs.Get().(*[]byte)
		n, addr, err := r.shared.ReadFrom((*buf)[headerV6 : headerV6+maxPacket+1])
		if err != nil {
			bufs.Put(buf)
			if r.retired.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			r.log.Warn("quic: read shared socket", "err", err)
			time.Sleep(10 * time.Millisecond) // a persistent error must not spin
			continue
		}
		r.fromShared.Add(1)
		if n > maxPacket {
			bufs.Put(buf)
			r.malformed.Add(1)
			continue
		}
		r.route(packet{buf: buf, off: headerV6, n: n, addr: addr})
	}
}

// route hands p to the generation its connection ID names, or to this
// generation's transport.
//
// A retired router can still read a packet or two: a read that Retire's
// deadline woke takes a packet landing before it runs again (Go's poller
// then reports the readiness, not the deadline), while the successor
// reads the same socket. Such a packet, unless it names this
// generation, belongs to the successor (generation+1, whose start retired
// this one): a new client's Initial must not open a connection on a
// generation that is draining.
func (r *Router) route(p packet) {
	gen, ok := packetGeneration(p.bytes())
	if ok && gen == r.gen {
		r.conn.deliver(p)
		return
	}
	var dst *peer
	if ok {
		dst = r.peerFor(gen)
	}
	if dst == nil && r.retired.Load() {
		dst = r.peerFor(r.gen + 1)
	}
	if dst == nil {
		r.conn.deliver(p) // the newest's own, or unknown: quic-go drops it or resets
		return
	}
	udp, isUDP := p.addr.(*net.UDPAddr)
	if !isUDP || !frame(&p, udp) {
		r.conn.deliver(p) // quic-go drops it, or resets with a shared key
		return
	}
	switch queued, full := dst.send(p); {
	case queued:
		r.forwarded.Add(1)
	case full:
		bufs.Put(p.buf)
		r.dropped.Add(1)
	default:
		bufs.Put(p.buf)
		r.late.Add(1)
	}
}

// frame writes the forwarding header just before p's packet and widens p
// to cover it.
func frame(p *packet, addr *net.UDPAddr) bool {
	hdr, err := appendForward(make([]byte, 0, headerV6), addr, nil)
	if err != nil || len(hdr) > p.off {
		return false
	}
	p.off -= len(hdr)
	copy((*p.buf)[p.off:], hdr)
	p.n += len(hdr)
	return true
}

// readForwarded reads packets other generations forward here. They go to
// the local transport only, never on again, so no packet loops.
func (r *Router) readForwarded() {
	defer r.wg.Done()
	for {
		buf := bufs.Get().(*[]byte)
		n, err := r.fwd.Read(*buf)
		if err != nil {
			bufs.Put(buf)
			if errors.Is(err, net.ErrClosed) {
				return
			}
			r.log.Warn("quic: read forwarding socket", "err", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if n == 0 { // a sender's probe: are we still here?
			bufs.Put(buf)
			continue
		}
		if n == len(*buf) { // maybe truncated: more than any sender writes
			bufs.Put(buf)
			r.malformed.Add(1)
			continue
		}
		addr, pkt, err := parseForward((*buf)[:n])
		if err != nil {
			bufs.Put(buf)
			r.malformed.Add(1)
			r.log.Debug("quic: dropped forwarded datagram", "err", err)
			continue
		}
		r.received.Add(1)
		r.conn.deliver(packet{buf: buf, off: n - len(pkt), n: len(pkt), addr: addr})
	}
}
