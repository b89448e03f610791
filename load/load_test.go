package load_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/moxing/moxing/checkpoint"
	"github.com/moxing/moxing/data"
	"github.com/moxing/moxing/load"
	"github.com/moxing/moxing/models/gpt"
	"github.com/moxing/moxing/models/mlp"
	"github.com/moxing/moxing/models/rnn"
	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/sample"
	"github.com/moxing/moxing/tensor"
	"github.com/moxing/moxing/tokenizer"
)

// saveModel writes params with card to dir/name and returns the path.
func saveModel(t *testing.T, dir, name string, params []nn.Param, card *checkpoint.Card) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := checkpoint.SaveParams(path, params, card.Metadata(checkpoint.MetaCard)); err != nil {
		t.Fatal(err)
	}
	return path
}

func sameParams(t *testing.T, what string, got, want []nn.Param) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d parameters, want %d", what, len(got), len(want))
	}
	for i := range got {
		if got[i].Name != want[i].Name || !slices.Equal(got[i].Data, want[i].Data) {
			t.Fatalf("%s: parameter %s differs after loading", what, want[i].Name)
		}
	}
}

func tinyGPT(t testing.TB) *gpt.Pretrained {
	t.Helper()
	tok, err := tokenizer.NewChar("hello world, the quick brown fox")
	if err != nil {
		t.Fatal(err)
	}
	m, err := gpt.New(gpt.Config{VocabSize: tok.VocabSize(), BlockSize: 8, NEmbd: 8, NLayer: 1, NHead: 2}, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	return &gpt.Pretrained{LM: m, Tokenizer: tok}
}

// Every kind saved with its card opens through one Open, by its card
// alone, with its weights; the kind is known from the header; a run folder
// means its best.safetensors.
func TestOpenEveryKind(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(3, 4))

	g := tinyGPT(t)
	card, err := g.Card()
	if err != nil {
		t.Fatal(err)
	}
	run := filepath.Join(dir, "run")
	os.Mkdir(run, 0o755)
	gptPath := saveModel(t, run, "best.safetensors", nn.Params(g.LM), card)

	g.Classifier, _ = gpt.NewClassifier(g.LM, 3, rng)
	g.Labels = []string{"a", "b", "c"}
	card, _ = g.Card()
	clsPath := saveModel(t, dir, "cls.safetensors", nn.Params(g.Classifier), card)

	r, err := rnn.NewLM(rnn.Config{Vocab: g.Tokenizer.VocabSize(), Embed: 4, Hidden: 5, Layers: 1}, rng)
	if err != nil {
		t.Fatal(err)
	}
	card, _ = (&rnn.Pretrained{LM: r, Tokenizer: g.Tokenizer, Window: 16}).Card()
	rnnPath := saveModel(t, dir, "rnn.safetensors", nn.Params(r), card)

	table, err := data.ReadCSV(strings.NewReader("x,y\n1,a\n2,b\n3,a\n4,b\n"), "t.csv", data.CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	schema, err := data.NewSchema(table, data.SchemaOptions{}, []int{0, 1, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	ml, err := mlp.New(mlp.Config{Inputs: schema.Inputs(), Hidden: []int{3}, Outputs: schema.Outputs()}, rng)
	if err != nil {
		t.Fatal(err)
	}
	mlpPath := saveModel(t, dir, "mlp.safetensors", nn.Params(ml), load.TabularCard(ml, schema, data.CSVFormat{Sep: ","}))

	for _, tc := range []struct {
		path, kind string
		want       []nn.Param
		got        func(*load.Model) []nn.Param
	}{
		{run, gpt.KindLM, nn.Params(g.LM), func(m *load.Model) []nn.Param { return nn.Params(m.GPT.LM) }},
		{clsPath, gpt.KindClassifier, nn.Params(g.Classifier), func(m *load.Model) []nn.Param { return nn.Params(m.GPT.Classifier) }},
		{rnnPath, rnn.KindLM, nn.Params(r), func(m *load.Model) []nn.Param { return nn.Params(m.RNN.LM) }},
		{mlpPath, mlp.Kind, nn.Params(ml), func(m *load.Model) []nn.Param { return nn.Params(m.Tabular.Model) }},
	} {
		kind, err := load.Kind(tc.path)
		if err != nil || kind != tc.kind {
			t.Fatalf("Kind(%s) = %q, %v; want %q", tc.path, kind, err, tc.kind)
		}
		m, err := load.Open(tc.path)
		if err != nil {
			t.Fatal(err)
		}
		if m.Card.Kind != tc.kind || m.Card.Format != checkpoint.CardFormat || m.Card.Writer == "" || m.Kind() != tc.kind {
			t.Fatalf("%s: card %+v, Kind %q", tc.path, m.Card, m.Kind())
		}
		want := 0
		for _, p := range tc.want {
			want += p.Numel()
		}
		if m.Parameters() != want {
			t.Fatalf("%s: %d parameters, want %d", tc.path, m.Parameters(), want)
		}
		sameParams(t, tc.path, tc.got(m), tc.want)
	}
	if m, _ := load.Open(gptPath); m.GPT.Tokenizer.VocabSize() != g.Tokenizer.VocabSize() {
		t.Fatal("the tokenizer did not come back")
	}
	m, _ := load.Open(clsPath)
	if tc, err := m.TextClassifier(); err != nil || !slices.Equal(tc.Labels, []string{"a", "b", "c"}) {
		t.Fatalf("classifier: %v, %v", tc, err)
	}
	if _, err := m.LanguageModel(); err == nil || !strings.Contains(err.Error(), "not a language model") {
		t.Fatalf("a classifier as a language model: %v", err)
	}
	if m, _ = load.Open(mlpPath); m.Tabular.CSV.Sep != "," || len(m.Tabular.Schema.Classes) != 2 {
		t.Fatalf("tabular preprocessing: %+v", m.Tabular)
	}
	if k := schema.Outputs(); m.Parameters() != (1*3+3)+(3*k+k) { // x → 3 hidden → k outputs
		t.Fatalf("the MLP has %d parameters, want %d", m.Parameters(), (1*3+3)+(3*k+k))
	}
}

// readerAt records the offsets read.
type readerAt struct {
	b    []byte
	mu   sync.Mutex
	seen [][2]int64
}

func (r *readerAt) ReadAt(p []byte, off int64) (int, error) {
	r.mu.Lock()
	r.seen = append(r.seen, [2]int64{off, off + int64(len(p))})
	r.mu.Unlock()
	return bytes.NewReader(r.b).ReadAt(p, off)
}

// dataRead returns how many bytes were read from the data buffer of a
// safetensors file whose header has length n (the one-byte size probe at
// the very end is not counted).
func (r *readerAt) dataRead(n int64) int64 {
	var total int64
	for _, s := range r.seen {
		if s[1]-s[0] == 1 && s[1] == int64(len(r.b)) {
			continue
		}
		if s[1] > 8+n {
			total += s[1] - max(s[0], 8+n)
		}
	}
	return total
}

// A hostile card or header is rejected from the header alone: no tensor
// data is read before the card, the config's size and every tensor's
// name and shape are checked.
func TestReadRejectsBeforeReadingData(t *testing.T) {
	g := tinyGPT(t)
	card, _ := g.Card()
	good := map[string]*tensor.Tensor{}
	for _, p := range nn.Params(g.LM) {
		good[p.Name] = p.Tensor
	}
	huge := *card
	huge.Config, _ = json.Marshal(gpt.Config{VocabSize: 1 << 30, BlockSize: 8, NEmbd: 1 << 14, NLayer: 1 << 10, NHead: 2})
	unknown := *card
	unknown.Kind = "llama"
	wrongShape := map[string]*tensor.Tensor{}
	for k, v := range good {
		wrongShape[k] = v
	}
	wrongShape["h.0.attn.c_attn.weight"] = tensor.Zeros(8, 40)
	missing := map[string]*tensor.Tensor{"wte.weight": good["wte.weight"], "junk": tensor.Zeros(2000)}
	for _, tc := range []struct {
		name    string
		tensors map[string]*tensor.Tensor
		meta    map[string]string
		want    string
	}{
		{"no card", good, nil, "not a moxing model"},
		{"unknown kind", good, unknown.Metadata(checkpoint.MetaCard), `"llama"`},
		{"huge config", good, huge.Metadata(checkpoint.MetaCard), "describes"},
		{"bad card JSON", good, map[string]string{checkpoint.MetaCard: `{"kind": 7}`}, checkpoint.MetaCard},
		{"config of another model", good, map[string]string{checkpoint.MetaCard: `{"kind":"gpt","config":{"inputs":3}}`}, `unknown field "inputs"`},
		{"newer format", good, map[string]string{checkpoint.MetaCard: `{"kind":"gpt","config":{},"format_version":99}`}, "upgrade moxing"},
		{"wrong shape", wrongShape, card.Metadata(checkpoint.MetaCard), `"h.0.attn.c_attn.weight" has shape [8 40]`},
		{"missing tensors", missing, card.Metadata(checkpoint.MetaCard), "missing from the file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := checkpoint.Write(&buf, tc.tensors, tc.meta); err != nil {
				t.Fatal(err)
			}
			r := &readerAt{b: buf.Bytes()}
			_, err := load.Read(r, int64(buf.Len()), "hostile.safetensors")
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "hostile.safetensors") {
				t.Fatalf("error %v, want one naming the file and %q", err, tc.want)
			}
			h, err := checkpoint.ReadHeader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
			if err != nil {
				t.Fatal(err)
			}
			n := int64(buf.Len()) - int64(h.Numel())*4 - 8
			if got := r.dataRead(n); got != 0 {
				t.Fatalf("read %d bytes of tensor data before rejecting the file", got)
			}
		})
	}
	// The same reader on a good file reads the data exactly once.
	var buf bytes.Buffer
	checkpoint.Write(&buf, good, card.Metadata(checkpoint.MetaCard))
	r := &readerAt{b: buf.Bytes()}
	if _, err := load.Read(r, int64(buf.Len()), "good.safetensors"); err != nil {
		t.Fatal(err)
	}
	h, _ := checkpoint.ReadHeader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	n := int64(buf.Len()) - int64(h.Numel())*4 - 8
	if got, want := r.dataRead(n), int64(h.Numel())*4; got != want {
		t.Fatalf("read %d bytes of tensor data, want each of the %d once", got, want)
	}
}

// Hugging Face folders open by their config: a classifier (its kind read
// from config.json alone) and a language model with a PEFT adapter folder
// on it, as OpenAdapter opens a moxing adapter file.
func TestOpenHFAndPEFT(t *testing.T) {
	dir := t.TempDir()
	g := tinyGPT(t)
	rng := rand.New(rand.NewPCG(5, 6))
	lmDir := filepath.Join(dir, "lm")
	if err := gpt.SaveHF(lmDir, g); err != nil {
		t.Fatal(err)
	}
	cls := &gpt.Pretrained{LM: g.LM, Labels: []string{"a", "b"}, Tokenizer: g.Tokenizer}
	cls.Classifier, _ = gpt.NewClassifier(g.LM, 2, rng)
	clsDir := filepath.Join(dir, "cls")
	if err := gpt.SaveHF(clsDir, cls); err != nil {
		t.Fatal(err)
	}
	if kind, err := load.Kind(clsDir); err != nil || kind != gpt.KindClassifier {
		t.Fatalf("Kind = %q, %v", kind, err)
	}
	if _, err := load.Open(clsDir, gpt.KindLM); err == nil || !strings.Contains(err.Error(), gpt.KindClassifier) {
		t.Fatalf("a classifier opened as a language model: %v", err)
	}
	m, err := load.Open(clsDir)
	if err != nil {
		t.Fatal(err)
	}
	sameParams(t, "classifier", nn.Params(m.GPT.Classifier), nn.Params(cls.Classifier))

	base, err := load.Open(lmDir)
	if err != nil {
		t.Fatal(err)
	}
	if err := base.GPT.LM.AddLoRA(gpt.LoRAConfig{Rank: 2, Targets: []string{"attn.c_attn"}}, rng); err != nil {
		t.Fatal(err)
	}
	for _, p := range nn.Params(base.GPT.LM) {
		if gpt.IsLoRA(p.Name) {
			nn.Normal(p.Tensor, 0, 0.5, rng)
		}
	}
	peftDir := filepath.Join(dir, "adapter")
	if err := gpt.SavePEFT(peftDir, base.GPT, lmDir); err != nil {
		t.Fatal(err)
	}
	m, err = load.OpenAdapter(lmDir, peftDir)
	if err != nil {
		t.Fatal(err)
	}
	if m.GPT.LM.LoRA == nil || m.Card.Kind != gpt.KindLM {
		t.Fatalf("%s: %s", peftDir, m.Describe())
	}
	sameParams(t, "adapted", nn.Params(m.GPT.LM), nn.Params(base.GPT.LM))
}

// A named pipe given as a model is refused at once: opening it would wait
// for a writer forever.
func TestOpenRefusesAPipe(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "model.safetensors")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skip(err)
	}
	done := make(chan error, 1)
	go func() { _, err := load.Open(fifo); done <- err }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Fatalf("a FIFO as a model: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("load.Open waited on a FIFO")
	}
}

// Complete writes the continuation, counts characters the vocabulary
// lacks, and refuses an empty prompt; the same seed writes the same text.
func TestComplete(t *testing.T) {
	g := tinyGPT(t)
	lm := &load.LanguageModel{Model: g.LM, Tokenizer: g.Tokenizer, Window: 8, Vocab: g.LM.Config.VocabSize}
	var a, b strings.Builder
	c, err := lm.Complete(context.Background(), &a, "hello world ✓", 12, sample.Config{Temperature: 1}, 3, "")
	if err != nil || c.Replaced != 1 || c.PromptTokens != 13 || !c.Cropped || a.Len() == 0 {
		t.Fatalf("%+v, %v, %q", c, err, a.String())
	}
	lm.Complete(context.Background(), &b, "hello world ✓", 12, sample.Config{Temperature: 1}, 3, "")
	if a.String() != b.String() {
		t.Fatalf("the same seed wrote %q and %q", a.String(), b.String())
	}
	if _, err := lm.Complete(context.Background(), io.Discard, "", 5, sample.Config{}, 1, ""); !errors.Is(err, load.ErrEmptyPrompt) {
		t.Fatalf("an empty prompt: %v", err)
	}
}
