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

// Tokens is a token sequence held as a token file holds it: 2 bytes a
// token when its vocabulary has at most 65536 ids, else 4, not the 8 of a
// Go int. The zero value is empty.
type Tokens struct {
	u16 []uint16
	u32 []uint32
}

// NewTokens packs ids, each in [0, vocab), 2 bytes a token when vocab ≤
// 65536. It panics on an id outside the vocabulary (the caller's tokenizer
// made them).
func NewTokens(ids []int, vocab int) Tokens {
	var t Tokens
	if vocab <= 1<<16 {
		t.u16 = make([]uint16, 0, len(ids))
	} else {
		t.u32 = make([]uint32, 0, len(ids))
	}
	t.push(ids, vocab)
	return t
}

// push appends ids, each in [0, vocab), to t, which NewTokens made for
// vocab.
func (t *Tokens) push(ids []int, vocab int) {
	for i, id := range ids {
		if id < 0 || id >= vocab {
			panic(fmt.Sprintf("data: token %d at position %d outside the vocabulary of %d", id, i, vocab))
		}
		if t.u32 != nil {
			t.u32 = append(t.u32, uint32(id))
		} else {
			t.u16 = append(t.u16, uint16(id))
		}
	}
}

// Len is the number of tokens.
func (t Tokens) Len() int { return len(t.u16) + len(t.u32) }

// At returns token i.
func (t Tokens) At(i int) int {
	if t.u32 != nil {
		return int(t.u32[i])
	}
	return int(t.u16[i])
}

// Slice returns tokens i … j-1, sharing t's storage.
func (t Tokens) Slice(i, j int) Tokens {
	if t.u32 != nil {
		return Tokens{u32: t.u32[i:j]}
	}
	return Tokens{u16: t.u16[i:j]}
}

// AppendTo appends tokens i … j-1 to dst as ints.
func (t Tokens) AppendTo(dst []int, i, j int) []int {
	if t.u32 != nil {
		for _, id := range t.u32[i:j] {
			dst = append(dst, int(id))
		}
		return dst
	}
	for _, id := range t.u16[i:j] {
		dst = append(dst, int(id))
	}
	return dst
}

// Ints returns the tokens as ints.
func (t Tokens) Ints() []int { return t.AppendTo(make([]int, 0, t.Len()), 0, t.Len()) }

// width is the bytes a token of t takes.
func (t Tokens) width() uint32 {
	if t.u32 != nil {
		return 4
	}
	return 2
}

// WriteTokens writes ids as a token file, with 2 bytes per token when the
// vocabulary fits (≤ 65536 ids), else 4. It is an error for an id to lie
// outside [0, vocab) or for vocab to exceed 2³².
func WriteTokens(w io.Writer, ids Tokens, vocab int) error {
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
	hdr = binary.LittleEndian.AppendUint64(hdr, uint64(ids.Len()))
	bw.Write(hdr)
	buf := make([]byte, 4)
	for i := range ids.Len() {
		id := ids.At(i)
		if id >= vocab {
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

// ReadTokens reads a token file written by WriteTokens, into Tokens of the
// file's width: memory is the file's size. name labels errors. It checks
// the header and that the file holds exactly the declared tokens; the
// declared count is not trusted with an allocation (storage grows as the
// tokens arrive).
func ReadTokens(r io.Reader, name string) (Tokens, error) {
	br := bufio.NewReader(r)
	hdr := make([]byte, 20)
	if _, err := io.ReadFull(br, hdr); err != nil {
		return Tokens{}, fmt.Errorf("%s: not a token file: header: %w", name, err)
	}
	if [4]byte(hdr[:4]) != tokenMagic {
		return Tokens{}, fmt.Errorf("%s: not a token file (magic %q)", name, hdr[:4])
	}
	if v := binary.LittleEndian.Uint32(hdr[4:]); v != 1 {
		return Tokens{}, fmt.Errorf("%s: token file version %d, want 1", name, v)
	}
	width := binary.LittleEndian.Uint32(hdr[8:])
	n := binary.LittleEndian.Uint64(hdr[12:])
	if width != 2 && width != 4 {
		return Tokens{}, fmt.Errorf("%s: %d bytes per token, want 2 or 4", name, width)
	}
	if n > maxTokens {
		return Tokens{}, fmt.Errorf("%s: declares %d tokens, more than %d", name, n, uint64(maxTokens))
	}
	var t Tokens
	capacity := int(min(n, 1<<24))
	if width == 2 {
		t.u16 = make([]uint16, 0, capacity)
	} else {
		t.u32 = make([]uint32, 0, capacity)
	}
	buf := make([]byte, 64<<10)
	for left := n * uint64(width); left > 0; {
		got, err := io.ReadFull(br, buf[:min(uint64(len(buf)), left)])
		for b := buf[:got-got%int(width)]; len(b) > 0; b = b[width:] {
			if width == 2 {
				t.u16 = append(t.u16, binary.LittleEndian.Uint16(b))
			} else {
				t.u32 = append(t.u32, binary.LittleEndian.Uint32(b))
			}
		}
		if err != nil {
			return Tokens{}, fmt.Errorf("%s: truncated: %d of %d tokens", name, t.Len(), n)
		}
		left -= uint64(got)
	}
	if _, err := br.ReadByte(); err != io.EOF {
		return Tokens{}, fmt.Errorf("%s: bytes after the %d declared tokens", name, n)
	}
	return t, nil
}

// Windows draws b random windows of t+1 consecutive tokens from tokens and
// returns the inputs x (the first t of each) and targets y (the last t:
// each position's next token), both b·t long in row-major (B, T) order. It
// panics when tokens holds no window of t+1.
func Windows(tokens Tokens, b, t int, rng *rand.Rand) (x, y []int) {
	if tokens.Len() < t+1 {
		panic(fmt.Sprintf("data: %d tokens hold no window of %d", tokens.Len(), t+1))
	}
	x, y = make([]int, 0, b*t), make([]int, 0, b*t)
	for range b {
		s := rng.IntN(tokens.Len() - t)
		x = tokens.AppendTo(x, s, s+t)
		y = tokens.AppendTo(y, s+1, s+t+1)
	}
	return x, y
}
