package quicroute

import (
	"crypto/rand"
	"encoding/binary"

	"github.com/quic-go/quic-go"
)

// CIDLen is the length of the connection IDs every generation issues.
// Generations route each other's packets by it, so it is part of the
// contract between them: change it only together with the routing.
const CIDLen = 12

// genIDs issues connection IDs that start with a generation number.
type genIDs struct{ gen uint32 }

// GenerateConnectionID implements quic.ConnectionIDGenerator.
func (g genIDs) GenerateConnectionID() (quic.ConnectionID, error) {
	var b [CIDLen]byte
	binary.BigEndian.PutUint32(b[:4], g.gen)
	if _, err := rand.Read(b[4:]); err != nil {
		return quic.ConnectionID{}, err
	}
	return quic.ConnectionIDFromBytes(b[:]), nil
}

// ConnectionIDLen implements quic.ConnectionIDGenerator.
func (genIDs) ConnectionIDLen() int { return CIDLen }

// packetGeneration reads the generation from a packet's destination
// connection ID. ok is false when the packet carries none of CIDLen bytes
// (empty, too short, a long header with another ID length): such packets
// are the newest generation's to handle.
func packetGeneration(p []byte) (gen uint32, ok bool) {
	if len(p) == 0 {
		return 0, false
	}
	if p[0]&0x80 == 0 { // short header: flags, then the ID
		if len(p) < 1+CIDLen {
			return 0, false
		}
		return binary.BigEndian.Uint32(p[1:5]), true
	}
	// long header: flags, version (4), ID length, ID
	if len(p) < 6+CIDLen || p[5] != CIDLen {
		return 0, false
	}
	return binary.BigEndian.Uint32(p[6:10]), true
}
