package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moxing/moxing/checkpoint"
	"github.com/moxing/moxing/tensor"
)

// hostileFiles writes the hostile inputs of issue 16's probe into dir and
// returns their paths by name. Everything is generated here; nothing is a
// committed blob.
func hostileFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	at := func(name string) string { return filepath.Join(dir, name) }
	write := func(name string, b []byte) {
		if err := os.WriteFile(at(name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("latin1-name.csv", []byte("caf\xe9,label\n1,a\n2,b\n3,a\n4,b\n"))
	write("latin1-label.csv", []byte("x,label\n1,a\n2,b\n3,\xe9t\xe9\n4,b\n"))
	write("float32-overflow.csv", []byte("x,label\n1,a\n1e39,b\n"+strings.Repeat("3,a\n4,b\n", 10)))
	write("huge-field.csv", []byte("x,label\n1,a\n2,"+strings.Repeat("b", 2<<20)+"\n"))
	os.MkdirAll(at("metrics-extremes"), 0o755)
	write("metrics-extremes/metrics.jsonl", []byte(`{"epoch":1,"train_loss":1e308,"val_loss":-1e308}`+"\n"+`{"epoch":2,"train_loss":1,"val_loss":0.5}`+"\n"))

	// An IDX file of 0 images, and one whose header announces 2³¹ bytes.
	idx := func(dims ...uint32) []byte {
		b := []byte{0, 0, 0x08, byte(len(dims))}
		for _, d := range dims {
			b = binary.BigEndian.AppendUint32(b, d)
		}
		return b
	}
	write("empty-idx3-ubyte", idx(0, 28, 28))
	write("huge-idx3-ubyte", idx(1<<21, 32, 32))

	// A 1×1 PNG whose header says 65535×65535.
	var buf bytes.Buffer
	png.Encode(&buf, image.NewGray(image.Rect(0, 0, 1, 1)))
	b := buf.Bytes()
	binary.BigEndian.PutUint32(b[16:], 65535)
	binary.BigEndian.PutUint32(b[20:], 65535)
	binary.BigEndian.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29]))
	write("bomb.png", b)

	// A 3 KB checkpoint whose card describes 200000×200000 hidden weights.
	buf.Reset()
	checkpoint.Write(&buf, map[string]*tensor.Tensor{"0.weight": tensor.Zeros(2, 3)},
		map[string]string{checkpoint.MetaCard: `{"kind":"mlp","config":{"inputs":3,"hidden":[200000,200000],"outputs":2}}`})
	write("huge-card.safetensors", buf.Bytes())

	if err := syscall.Mkfifo(at("fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(at("corpus-with-fifo"), 0o755)
	if err := syscall.Mkfifo(at("corpus-with-fifo/a.txt"), 0o644); err != nil {
		t.Fatal(err)
	}
	paths := map[string]string{}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		paths[e.Name()] = at(e.Name())
	}
	return paths
}

// Every command, given the hostile inputs of issue 16's probe, exits with
// one clear error line (or, where the input is legal, succeeds) within a
// few seconds: no panic, no hang, no output file left behind.
func TestHostileInputs(t *testing.T) {
	dir := t.TempDir()
	f := hostileFiles(t, dir)
	good := toyCSV(t, dir, 60)
	model := filepath.Join(dir, "run")
	if code, _, e := moxing(t, context.Background(), "train", "--data", good, "--run", model, "--epochs", "2"); code != 0 {
		t.Fatal(e)
	}
	out := filepath.Join(dir, "out.csv")
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string // in the one error line; "" for a success
	}{
		{"train_latin1_name", []string{"train", "--data", f["latin1-name.csv"]}, 1, "latin1-name.csv line 1 column 1: not valid UTF-8"},
		{"train_latin1_label", []string{"train", "--data", f["latin1-label.csv"]}, 1, "latin1-label.csv line 4 column 2: not valid UTF-8"},
		{"train_float32_overflow", []string{"train", "--data", f["float32-overflow.csv"]}, 1, `float32-overflow.csv line 3: column "x": "1e39" is not a finite number`},
		{"train_huge_field", []string{"train", "--data", f["huge-field.csv"]}, 1, "huge-field.csv line 3: a line longer than 1048576 bytes"},
		{"train_fifo", []string{"train", "--data", f["fifo"]}, 1, "fifo is not a regular file"},
		{"train_dev_zero", []string{"train", "--data", "/dev/zero"}, 1, "/dev/zero is not a regular file"},
		{"train_folder", []string{"train", "--data", dir}, 1, "is a folder, not a file"},
		{"eval_fifo_model", []string{"eval", "--model", f["fifo"], "--data", good}, 1, "not a regular file"},
		{"eval_huge_card", []string{"eval", "--model", f["huge-card.safetensors"], "--data", good}, 1, "huge-card.safetensors"},
		{"eval_latin1_label", []string{"eval", "--model", model, "--data", f["latin1-label.csv"]}, 1, "not valid UTF-8"},
		{"predict_empty_idx", []string{"predict", "--model", model, "--data", f["empty-idx3-ubyte"], "--out", out}, 1, "empty-idx3-ubyte"},
		{"predict_png_bomb", []string{"predict", "--model", model, "--data", f["bomb.png"], "--out", out}, 1, "bomb.png"},
		{"predict_to_dev_null", []string{"predict", "--model", model, "--data", good, "--out", "/dev/null"}, 0, ""},
		{"prepare_dev_zero", []string{"prepare", "--input", "/dev/zero", "--out", filepath.Join(dir, "p1")}, 1, "/dev/zero is not a regular file"},
		{"prepare_fifo_in_folder", []string{"prepare", "--input", f["corpus-with-fifo"], "--out", filepath.Join(dir, "p2")}, 1, "a.txt is not a regular file"},
		{"generate_fifo_model", []string{"generate", "--model", f["fifo"], "--prompt", "x"}, 1, "not a regular file"},
		{"classify_fifo_model", []string{"classify", "--model", f["fifo"], "--text", "x"}, 1, "not a regular file"},
		{"plot_extremes", []string{"plot", "--run", f["metrics-extremes"], "--out", filepath.Join(dir, "plots")}, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			type result struct {
				code   int
				stderr string
			}
			done := make(chan result, 1)
			go func() {
				code, _, stderr := moxing(t, ctx, tc.args...)
				done <- result{code, stderr}
			}()
			var r result
			select {
			case r = <-done:
			case <-time.After(30 * time.Second):
				t.Fatalf("%v: no answer in 30 s (a hang)", tc.args)
			}
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s", r.code, tc.code, r.stderr)
			}
			if strings.Contains(r.stderr, "goroutine ") || strings.Contains(r.stderr, "panic") {
				t.Fatalf("stack trace in stderr:\n%s", r.stderr)
			}
			if tc.want == "" {
				return
			}
			lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
			if last := lines[len(lines)-1]; !strings.HasPrefix(last, "moxing") || !strings.Contains(last, tc.want) {
				t.Fatalf("error line %q lacks %q (stderr:\n%s)", last, tc.want, r.stderr)
			}
			if _, err := os.Stat(out); err == nil {
				t.Fatalf("%s was written despite the error", out)
			}
		})
	}
	if st, err := os.Stat("/dev/null"); err != nil || st.Mode()&os.ModeCharDevice == 0 {
		t.Fatalf("/dev/null is no longer a character device: %v %v", st.Mode(), err)
	}
}
