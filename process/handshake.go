package process

import (
	"crypto/sha256"
	"encoding/binary"

	"github.com/hashicorp/go-plugin"
)

// CookieKey is the environment variable by which a plugin executable knows
// a plugink host started it; its value is "<kind>/<name>".
const CookieKey = "PLUGINK_PROCESS_PLUGIN"

// Version returns the protocol version of an interface's shape: a number
// from 1 to 2^31-1 that two sides agree on only if they were generated
// from the same shape.
func Version(shape string) uint {
	sum := sha256.Sum256([]byte(shape))
	v := uint(binary.BigEndian.Uint32(sum[:4]) & 0x7fffffff)
	if v == 0 {
		v = 1
	}
	return v
}

// Handshake returns go-plugin's handshake for a plugin: the shape's
// protocol version, and the cookie naming the plugin.
func Handshake(kind, name, shape string) plugin.HandshakeConfig {
	return plugin.HandshakeConfig{
		ProtocolVersion:  Version(shape),
		MagicCookieKey:   CookieKey,
		MagicCookieValue: kind + "/" + name,
	}
}
