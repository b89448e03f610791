package rnn_test

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/moxing/moxing/data"
	"github.com/moxing/moxing/models/rnn"
	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/tensor"
	"github.com/moxing/moxing/tensor/tensortest"
)

func TestLMNamesAndShapes(t *testing.T) {
	m, err := rnn.NewLM(rnn.Config{Vocab: 11, Embed: 4, Hidden: 6, Layers: 2}, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range nn.Params(m) {
		names = append(names, p.Name)
	}
	// PyTorch's word_language_model: encoder, rnn (nn.LSTM's names), decoder.
	want := []string{"encoder.weight", "rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0", "rnn.bias_hh_l0",
		"rnn.weight_ih_l1", "rnn.weight_hh_l1", "rnn.bias_ih_l1", "rnn.bias_hh_l1", "decoder.weight", "decoder.bias"}
	if !slices.Equal(names, want) {
		t.Errorf("parameter names %v, want %v", names, want)
	}
	ids := []int{1, 2, 3, 4, 5, 6, 7, 8}
	logits, loss := m.Forward(ids, 2, 4, ids)
	if s := logits.Shape(); !slices.Equal(s, []int{2, 4, 11}) {
		t.Errorf("logits %v", s)
	}
	loss.Backward()
	if m.RNN.Cells[1].WeightHH.Grad == nil || m.Encoder.Weight.Grad == nil {
		t.Error("no gradient reached the recurrent weights or the embedding")
	}
	if _, err := rnn.NewLM(rnn.Config{Vocab: 11, Embed: 4, Hidden: 6, Layers: 1, Bidirectional: true}, rand.New(rand.NewPCG(1, 2))); err == nil {
		t.Error("a bidirectional language model was accepted")
	}
	if _, err := rnn.NewLM(rnn.Config{Kind: "transformer", Vocab: 11, Embed: 4, Hidden: 6, Layers: 1}, rand.New(rand.NewPCG(1, 2))); err == nil {
		t.Error("an unknown kind was accepted")
	}
}

// TestClassifierPadding: a text classifies the same alone and in a padded
// batch with longer texts, for every cell kind, both ways.
func TestClassifierPadding(t *testing.T) {
	for _, kind := range []nn.RNNKind{nn.KindLSTM, nn.KindGRU, nn.KindRNN} {
		c, err := rnn.NewClassifier(rnn.Config{Kind: kind, Vocab: 20, Embed: 5, Hidden: 4, Layers: 2, Bidirectional: true, Classes: 3},
			rand.New(rand.NewPCG(3, 4)))
		if err != nil {
			t.Fatal(err)
		}
		inf := nn.Detach(c)
		texts := [][]int{{3, 4, 5}, {1, 2, 3, 4, 5, 6, 7}, {9}}
		batch := inf.Forward(data.Pad(texts))
		for i, text := range texts {
			alone := inf.Forward(data.Pad([][]int{text}))
			row := batch.Slice(0, i, i+1)
			if err := tensortest.AllClose(row, alone, 1e-5, 1e-6); err != nil {
				t.Errorf("%s: text %d in a padded batch: %v", kind, i, err)
			}
		}
	}
}

// TestArenaMatchesHeap: see the cnn package's test of the same name.
func TestArenaMatchesHeap(t *testing.T) {
	for _, kind := range []nn.RNNKind{nn.KindLSTM, nn.KindGRU, nn.KindRNN} {
		losses := func(useArena bool) []float32 {
			m, err := rnn.NewLM(rnn.Config{Kind: kind, Vocab: 9, Embed: 4, Hidden: 5, Layers: 2, Dropout: 0.1}, rand.New(rand.NewPCG(1, 2)))
			if err != nil {
				t.Fatal(err)
			}
			nn.Train(m, rand.New(rand.NewPCG(3, 4)))
			arena := tensor.NewArena()
			if useArena {
				nn.UseArena(m, arena)
			}
			ids := []int{1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 2, 3}
			var out []float32
			for range 3 {
				_, loss := m.Forward(ids, 2, 6, ids)
				out = append(out, loss.Item())
				for _, p := range nn.Params(m) {
					p.ZeroGrad()
				}
				loss.Backward()
				arena.Reset()
				for _, p := range nn.Params(m) {
					for i, g := range p.Grad.Data {
						p.Data[i] -= 0.1 * g
					}
				}
			}
			return out
		}
		if heap, arena := losses(false), losses(true); !slices.Equal(heap, arena) {
			t.Errorf("%s: losses with an arena %v, on the heap %v", kind, arena, heap)
		}
	}
}
