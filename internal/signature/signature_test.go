package signature

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// seeded returns the key generated from a seed of 32 bytes b: the same key
// every run.
func seeded(t testing.TB, b byte) PrivateKey {
	t.Helper()
	k, err := GenerateKey(bytes.NewReader(bytes.Repeat([]byte{b}, ed25519.SeedSize)))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var b64 = base64.StdEncoding.EncodeToString

func TestPublicKeyText(t *testing.T) {
	k := seeded(t, 1).Public()
	text := k.String()
	if !strings.HasPrefix(text, "plugink-ed25519 ") || len(text) != len("plugink-ed25519 ")+44 {
		t.Fatalf("text form %q", text)
	}
	back, err := ParsePublicKey(text)
	if err != nil {
		t.Fatal(err)
	}
	if back.String() != text || back.ID() != k.ID() {
		t.Errorf("round trip: %s (%s), want %s (%s)", back, back.ID(), text, k.ID())
	}
	if len(k.ID()) != 16 || strings.Trim(k.ID(), "0123456789abcdef") != "" {
		t.Errorf("key ID %q: want 16 lower-case hex digits", k.ID())
	}
	if other := seeded(t, 2).Public(); other.ID() == k.ID() {
		t.Errorf("two keys share the ID %s", k.ID())
	}
}

func TestParsePublicKeyRejects(t *testing.T) {
	good := seeded(t, 1).Public().String()
	raw := seeded(t, 1).Public().key
	priv := string(seeded(t, 1).Marshal())
	tests := []struct {
		name, text, want string
	}{
		{"empty", "", `want "plugink-ed25519 <base64 of a 32-byte Ed25519 key>"`},
		{"no prefix", b64(raw), `want "plugink-ed25519 <base64 of a 32-byte Ed25519 key>"`},
		{"other prefix", "ssh-ed25519 " + b64(raw), `want "plugink-ed25519 <base64`},
		{"two spaces", "plugink-ed25519  " + b64(raw), "not standard base64"},
		{"trailing newline", good + "\n", "not standard base64"},
		{"comment after", good + " me@host", "not standard base64"},
		{"leading space", " " + good, `want "plugink-ed25519 <base64`},
		{"bad base64", "plugink-ed25519 !!!!" + b64(raw)[4:], "not standard base64"},
		{"url base64", "plugink-ed25519 " + base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xff}, 32)), "not standard base64"},
		{"unpadded", "plugink-ed25519 " + strings.TrimRight(b64(raw), "="), "not standard base64"},
		{"short", "plugink-ed25519 " + b64(raw[:31]), "decodes to 31 bytes; an Ed25519 public key has 32"},
		{"long", "plugink-ed25519 " + b64(append(raw[:32:32], 0)), "decodes to 33 bytes; an Ed25519 public key has 32"},
		{"the private key", priv, "a private key (a .key file)"},
		{"the private key's seed line", strings.Split(priv, "\n")[1], `want "plugink-ed25519 <base64`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParsePublicKey(tc.text)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "public key: ") {
				t.Errorf("error %q does not say it is about a public key", err)
			}
			// A secret pasted by mistake is never echoed.
			if seed := strings.Split(priv, "\n")[1]; strings.Contains(err.Error(), seed) {
				t.Errorf("error %q echoes the private key", err)
			}
		})
	}
}

func TestPrivateKeyFile(t *testing.T) {
	k := seeded(t, 3)
	data := k.Marshal()
	if !strings.HasPrefix(string(data), "plugink-ed25519-private-key-v1\n") || !strings.HasSuffix(string(data), "\n") || strings.Count(string(data), "\n") != 2 {
		t.Fatalf("private key file %q", data)
	}
	back, err := ParsePrivateKey(data)
	if err != nil {
		t.Fatal(err)
	}
	if back.Public().String() != k.Public().String() {
		t.Errorf("round trip changed the key")
	}
	seed := b64(k.key.Seed())
	tests := []struct {
		name, data, want string
	}{
		{"empty", "", "want the header line"},
		{"public key", k.Public().String() + "\n", "a public key (a .pub file)"},
		{"other header", "-----BEGIN OPENSSH PRIVATE KEY-----\n" + seed + "\n", "want the header line"},
		{"header only", "plugink-ed25519-private-key-v1\n", "want 2 lines"},
		{"extra line", string(data) + "more\n", "want 2 lines"},
		{"blank line after", string(data) + "\n", "want 2 lines"},
		{"crlf", "plugink-ed25519-private-key-v1\r\n" + seed + "\r\n", "want the header line"},
		{"bad base64", "plugink-ed25519-private-key-v1\n" + "#" + seed[1:] + "\n", "not standard base64"},
		{"short seed", "plugink-ed25519-private-key-v1\n" + b64(make([]byte, 31)) + "\n", "decodes to 31 bytes; an Ed25519 seed has 32"},
		{"64-byte key", "plugink-ed25519-private-key-v1\n" + b64(k.key) + "\n", "decodes to 64 bytes; an Ed25519 seed has 32"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParsePrivateKey([]byte(tc.data))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), seed) {
				t.Errorf("error %q echoes the private key", err)
			}
		})
	}
	if _, err := ParsePrivateKey([]byte(strings.TrimSuffix(string(data), "\n"))); err != nil {
		t.Errorf("without the final newline: %v", err)
	}
}

func TestReadPrivateKey(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "release.key")
	k := seeded(t, 4)
	if err := os.WriteFile(file, k.Marshal(), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := ReadPrivateKey(file)
	if err != nil || got.Public().ID() != k.Public().ID() {
		t.Fatalf("ReadPrivateKey: %v", err)
	}
	if err := os.WriteFile(file, []byte("nonsense\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadPrivateKey(file); err == nil || !strings.HasPrefix(err.Error(), file+": ") {
		t.Errorf("error %v does not name the file", err)
	}
	if _, err := ReadPrivateKey(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("a directory: %v", err)
	}
	big := filepath.Join(dir, "big.key")
	if err := os.WriteFile(big, bytes.Repeat([]byte("a"), MaxFile+1), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadPrivateKey(big); err == nil || !strings.Contains(err.Error(), "file too large") {
		t.Errorf("a large file: %v", err)
	}
}

func TestSignVerify(t *testing.T) {
	k, other := seeded(t, 5), seeded(t, 6)
	sum := sha256.Sum256([]byte("plugin bytes"))
	sig := Sign(k, sum)
	if sig.KeyID != k.Public().ID() {
		t.Errorf("signature names key %s, want %s", sig.KeyID, k.Public().ID())
	}
	if got, err := Verify([]PublicKey{other.Public(), k.Public()}, sum, sig); err != nil || got.ID() != k.Public().ID() {
		t.Fatalf("Verify: %v, %v", got, err)
	}

	// The message is domain-separated: the signature is not over the bare
	// hash, so a key that signs other things cannot be made to sign a
	// plugin.
	if ed25519.Verify(k.Public().key, sum[:], sig.Sig) {
		t.Error("the signature verifies over the bare hash")
	}

	tests := []struct {
		name   string
		pinned []PublicKey
		sum    [32]byte
		sig    Signature
		want   string
	}{
		{"no key pinned", nil, sum, sig, "signed by key " + k.Public().ID() + ", which is not pinned (no key is)"},
		{"another key pinned", []PublicKey{other.Public()}, sum, sig, "signed by key " + k.Public().ID() + ", which is not pinned (pinned: " + other.Public().ID() + ")"},
		{"other bytes", []PublicKey{k.Public()}, sha256.Sum256([]byte("other bytes")), sig, "the signature by key " + k.Public().ID() + " does not verify: the file is not the one the key signed"},
		{"signed by another key, claiming the pinned one", []PublicKey{k.Public()}, sum, Signature{KeyID: k.Public().ID(), Sig: Sign(other, sum).Sig}, "does not verify"},
		{"flipped bit", []PublicKey{k.Public()}, sum, Signature{KeyID: sig.KeyID, Sig: flip(sig.Sig)}, "does not verify"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Verify(tc.pinned, tc.sum, tc.sig)
			if !errors.Is(err, ErrSignature) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want ErrSignature and %q", err, tc.want)
			}
		})
	}
}

func flip(b []byte) []byte {
	out := bytes.Clone(b)
	out[10] ^= 1
	return out
}

func TestSignatureFile(t *testing.T) {
	k := seeded(t, 7)
	sig := Sign(k, sha256.Sum256([]byte("x")))
	data := sig.Marshal()
	want := "plugink-signature-v1 " + k.Public().ID() + " " + b64(sig.Sig) + "\n"
	if string(data) != want {
		t.Fatalf("signature file %q, want %q", data, want)
	}
	back, err := ParseSignature(data)
	if err != nil || back.KeyID != sig.KeyID || !bytes.Equal(back.Sig, sig.Sig) {
		t.Fatalf("round trip: %v, %v", back, err)
	}
	line := strings.TrimSuffix(want, "\n")
	tests := []struct {
		name, data, want string
	}{
		{"empty", "", "want one line"},
		{"truncated", line[:len(line)/2], "not standard base64"},
		{"truncated to the key ID", line[:len("plugink-signature-v1 ")+10], "want one line"},
		{"cut in the base64", line[:len(line)-3], "not standard base64"},
		{"other prefix", strings.Replace(line, "plugink-signature-v1", "plugink-signature-v2", 1), "want one line"},
		{"upper-case key ID", strings.Replace(line, k.Public().ID(), strings.ToUpper(k.Public().ID()), 1), "key ID"},
		{"short key ID", strings.Replace(line, k.Public().ID(), k.Public().ID()[:15], 1), "key ID"},
		{"two lines", want + want, "want one line"},
		{"crlf", line + "\r\n", "not standard base64"},
		{"garbage", "\x00\x01\x02", "want one line"},
		{"tabs", strings.ReplaceAll(line, " ", "\t"), "want one line"},
		{"long signature", "plugink-signature-v1 " + k.Public().ID() + " " + b64(make([]byte, 65)), "decodes to 65 bytes; an Ed25519 signature has 64"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseSignature([]byte(tc.data))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestReadSignature(t *testing.T) {
	dir := t.TempDir()
	plugin := filepath.Join(dir, "client_x.so")
	if got := FileFor(plugin); got != plugin+".sig" {
		t.Fatalf("FileFor = %s", got)
	}
	if _, err := ReadSignature(FileFor(plugin)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing: %v, want fs.ErrNotExist", err)
	}
	sig := Sign(seeded(t, 8), sha256.Sum256(nil))
	if err := os.WriteFile(FileFor(plugin), sig.Marshal(), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := ReadSignature(FileFor(plugin)); err != nil || got.KeyID != sig.KeyID {
		t.Fatalf("ReadSignature: %v", err)
	}
	if err := os.WriteFile(FileFor(plugin), []byte("plugink-signature-v1 "), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadSignature(FileFor(plugin)); err == nil || !strings.HasPrefix(err.Error(), FileFor(plugin)+": ") {
		t.Errorf("error %v does not name the .sig file", err)
	}
	if err := os.WriteFile(FileFor(plugin), bytes.Repeat([]byte("a"), MaxFile+1), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadSignature(FileFor(plugin)); err == nil || !strings.Contains(err.Error(), "file too large") {
		t.Errorf("a large .sig: %v", err)
	}
	if err := os.Remove(FileFor(plugin)); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(FileFor(plugin), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadSignature(FileFor(plugin)); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("a directory: %v", err)
	}
}

// FuzzParse: no input makes a parser panic, and what one accepts, its
// Marshal or String writes back as the same bytes (a parse is strict: one
// spelling per value).
func FuzzParse(f *testing.F) {
	k := seeded(f, 9)
	f.Add(k.Public().String())
	f.Add(string(k.Marshal()))
	f.Add(string(Sign(k, sha256.Sum256(nil)).Marshal()))
	f.Add("plugink-signature-v1 0123456789abcdef AAAA\n")
	f.Add("plugink-ed25519 ====")
	f.Fuzz(func(t *testing.T, s string) {
		if pk, err := ParsePublicKey(s); err == nil && pk.String() != s {
			t.Errorf("public key %q reads back as %q", s, pk.String())
		}
		if sk, err := ParsePrivateKey([]byte(s)); err == nil && string(sk.Marshal()) != strings.TrimSuffix(s, "\n")+"\n" {
			t.Errorf("private key %q reads back as %q", s, sk.Marshal())
		}
		if sig, err := ParseSignature([]byte(s)); err == nil && string(sig.Marshal()) != strings.TrimSuffix(s, "\n")+"\n" {
			t.Errorf("signature %q reads back as %q", s, sig.Marshal())
		}
	})
}

func TestPinned(t *testing.T) {
	k, other := seeded(t, 10), seeded(t, 11)
	dir := t.TempDir()
	real := filepath.Join(dir, "store", "client_x.so.v3")
	link := filepath.Join(dir, "client_x.so")
	if err := os.MkdirAll(filepath.Dir(real), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(real, []byte("plugin"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}

	var none Pinned
	if sig, err := none.ReadFor(link, real); sig != nil || err != nil || none.Active() {
		t.Fatalf("no key pinned: %v, %v", sig, err)
	}
	if err := none.Check(nil, ""); err != nil {
		t.Errorf("Check of no signature: %v", err)
	}

	var bad Pinned
	bad.Add(k.Public().String(), "plugink-ed25519 AAAA", "nonsense")
	if _, err := bad.ReadFor(link, real); !errors.Is(err, ErrSignature) || err.Error() != "signature check failed: trusted key 2 of 3: public key: decodes to 3 bytes; an Ed25519 public key has 32" {
		t.Errorf("a bad key: %v", err)
	}

	var p Pinned
	p.Add(other.Public().String(), k.Public().String())
	_, err := p.ReadFor(link, real)
	want := "signature check failed: no signature: " + link + ".sig does not exist, and this program loads only files that a key it pins signed (pinned: " + other.Public().ID() + ", " + k.Public().ID() + ")"
	if !errors.Is(err, ErrSignature) || err.Error() != want {
		t.Errorf("no .sig: %v, want %s", err, want)
	}
	if h, ok := err.(interface{ ErrorHint() string }); !ok || !strings.Contains(h.ErrorHint(), "plugink build -sign") {
		t.Errorf("no .sig: no hint with the command to sign")
	}

	sum := hexSum("plugin")
	// The .sig beside the file a link leads to counts too.
	if err := os.WriteFile(FileFor(real), Sign(k, sha256.Sum256([]byte("plugin"))).Marshal(), 0o644); err != nil {
		t.Fatal(err)
	}
	sig, err := p.ReadFor(link, real)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Check(sig, sum); err != nil {
		t.Errorf("Check: %v", err)
	}
	err = p.Check(sig, hexSum("other"))
	if !errors.Is(err, ErrSignature) || !strings.Contains(err.Error(), "does not verify") {
		t.Errorf("Check of other bytes: %v", err)
	}
	if h, ok := err.(interface{ ErrorHint() string }); !ok || !strings.Contains(h.ErrorHint(), "build and sign it again: plugink build -sign") {
		t.Errorf("Check of other bytes: no hint")
	}
	if err := p.Check(sig, "xyz"); !errors.Is(err, ErrSignature) {
		t.Errorf("Check of a malformed sum: %v", err)
	}

}

func hexSum(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestWriteKeyPair(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "release")
	kf, err := WriteKeyPair(name)
	require.NoError(t, err)
	assert.Equal(t, name+".key", kf.Private)
	assert.Equal(t, name+".pub", kf.Public)

	fi, err := os.Stat(kf.Private)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "the private key is the user's alone")
	priv, err := ReadPrivateKey(kf.Private)
	require.NoError(t, err)
	pub, err := os.ReadFile(kf.Public)
	require.NoError(t, err)
	assert.Equal(t, kf.PublicKey+"\n", string(pub))
	parsed, err := ParsePublicKey(kf.PublicKey)
	require.NoError(t, err)
	assert.Equal(t, priv.Public().String(), parsed.String(), "the .pub is the .key's public half")
	assert.Equal(t, parsed.ID(), kf.KeyID)

	// Never overwritten, either file; nothing written when one exists.
	before, err := os.ReadFile(kf.Private)
	require.NoError(t, err)
	_, err = WriteKeyPair(name)
	assert.EqualError(t, err, name+".key exists: a key is never overwritten")
	after, err := os.ReadFile(kf.Private)
	require.NoError(t, err)
	assert.Equal(t, before, after)
	other := filepath.Join(dir, "other")
	require.NoError(t, os.WriteFile(other+".pub", []byte("mine\n"), 0o644))
	_, err = WriteKeyPair(other)
	assert.EqualError(t, err, other+".pub exists: a key is never overwritten")
	assert.NoFileExists(t, other+".key")

	// Two keys are two keys.
	again, err := WriteKeyPair(filepath.Join(dir, "again"))
	require.NoError(t, err)
	assert.NotEqual(t, kf.KeyID, again.KeyID)
}
