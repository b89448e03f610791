package data

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
)

// Token files hold a token sequence: the magic "MXTK", a format version
// (uint32, 1), the bytes per token (uint32, 2 or 4), the token count
// (uint64), then the tokens, little-endian.
var tokenMagic = [4]byte{'M', 'X', 'T', 'K'}

// maxTokens bounds the count a token file may declare (16 GiB of uint32).
const maxTokens = 1 << 32

// WriteTokens writes ids as a token file, with 2 bytes per token when the
// vocabulary fits (≤ 65536 ids), else 4. It is an error for an id to lie
// outside [0, vocab) or for vocab to exceed 2³².
func WriteTokens(w io.Writer, ids []int, vocab int) error {
	if vocab < 1 || uint64(vocab) > 1<<32 {
		return fmt.Errorf("data: vocabulary of %d tokens does not fit a token file (at most 2^32)", vocab)
	}
	width := uint32(4)
	if vocab <= 1<<16 {
		width = 2
	}
	bw := bufio.NewWriter(w)
	hdr := make([]byte, 0, 20)
	hdr = append(hdr, tokenMagic[:]...)
	hdr = binary.LittleEndian.AppendUint32(hdr, 1)
	hdr = binary.LittleEndian.AppendUint32(hdr, width)
	hdr = binary.LittleEndian.AppendUint64(hdr, uint64(len(ids)))
	bw.Write(hdr)
	buf := make([]byte, 4)
	for i, id := range ids {
		if id < 0 || id >= vocab {
			return fmt.Errorf("data: token %d at position %d outside the vocabulary of %d", id, i, vocab)
		}
		if width == 2 {
			binary.LittleEndian.PutUint16(buf, uint16(id))
		} else {
			binary.LittleEndian.PutUint32(buf, uint32(id))
		}
		bw.Write(buf[:width])
	}
	return bw.Flush()
}

// ReadTokens reads a token file written by WriteTokens. name labels errors.
// It checks the header and that the file holds exactly the declared tokens.
func ReadTokens(r io.Reader, name string) ([]int, error) {
	br := bufio.NewReader(r)
	hdr := make([]byte, 20)
	if _, err := io.ReadFull(br, hdr); err != nil {
		return nil, fmt.Errorf("%s: not a token file: header: %w", name, err)
	}
	if [4]byte(hdr[:4]) != tokenMagic {
		return nil, fmt.Errorf("%s: not a token file (magic %q)", name, hdr[:4])
	}
	if v := binary.LittleEndian.Uint32(hdr[4:]); v != 1 {
		return nil, fmt.Errorf("%s: token file version %d, want 1", name, v)
	}
	width := binary.LittleEndian.Uint32(hdr[8:])
	n := binary.LittleEndian.Uint64(hdr[12:])
	if width != 2 && width != 4 {
		return nil, fmt.Errorf("%s: %d bytes per token, want 2 or 4", name, width)
	}
	if n > maxTokens {
		return nil, fmt.Errorf("%s: declares %d tokens, more than %d", name, n, uint64(maxTokens))
	}
	ids := make([]int, 0, min(n, 1<<24)) // grow as data arrives: the count is not trusted
	buf := make([]byte, width)
	for i := uint64(0); i < n; i++ {
		if _, err := io.ReadFull(br, buf); err != nil {
			return nil, fmt.Errorf("%s: truncated: %d of %d tokens", name, i, n)
		}
		if width == 2 {
			ids = append(ids, int(binary.LittleEndian.Uint16(buf)))
		} else {
			ids = append(ids, int(binary.LittleEndian.Uint32(buf)))
		}
	}
	if _, err := br.ReadByte(); err != io.EOF {
		return nil, fmt.Errorf("%s: bytes after the %d declared tokens", name, n)
	}
	return ids, nil
}

// Windows draws b random windows of t+1 consecutive tokens from tokens and
// returns the inputs x (the first t of each) and targets y (the last t:
// each position's next token), both b·t long in row-major (B, T) order. It
// panics when tokens holds no window of t+1.
func Windows(tokens []int, b, t int, rng *rand.Rand) (x, y []int) {
	if len(tokens) < t+1 {
		panic(fmt.Sprintf("data: %d tokens hold no window of %d", len(tokens), t+1))
	}
	x, y = make([]int, 0, b*t), make([]int, 0, b*t)
	for range b {
		s := rng.IntN(len(tokens) - t)
		x = append(x, tokens[s:s+t]...)
		y = append(y, tokens[s+1:s+t+1]...)
	}
	return x, y
}
