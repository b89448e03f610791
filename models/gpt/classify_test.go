package gpt

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/moxing/moxing/checkpoint"
	"github.com/moxing/moxing/data"
	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/tensor"
)

// The classification head on the reference weights matches PyTorch
// (tools/reference/gpt2.py): logits of a right-padded batch, the
// class-weighted loss, and every gradient.
func TestClassifierParityWithPyTorch(t *testing.T) {
	m, _ := loadReference(t)
	g, err := checkpoint.Load("../../testdata/gpt2_tiny_classify_golden.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	var lengths []int
	var weights []float32
	json.Unmarshal([]byte(g.Metadata["lengths"]), &lengths)
	json.Unmarshal([]byte(g.Metadata["class_weights"]), &weights)
	c, err := NewClassifier(m, g.Tensors["score.weight"].Dim(0), rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	copy(c.Score.Weight.Data, g.Tensors["score.weight"].Data)
	all, width := ids(g.Tensors["idx"]), g.Tensors["idx"].Dim(1)
	var batch [][]int
	for i, n := range lengths {
		batch = append(batch, all[i*width:i*width+n])
	}
	logits := c.Forward(data.Pad(batch))
	if d, _ := maxAbsDiff(logits.Data, g.Tensors["logits"].Data); d > 1e-5 {
		t.Fatalf("logits differ from PyTorch by %g", d)
	}
	loss := nn.WeightedCrossEntropy(logits, ids(g.Tensors["labels"]), weights)
	if d := math.Abs(float64(loss.Item() - g.Tensors["loss"].Data[0])); d > 1e-5 {
		t.Fatalf("loss %v, PyTorch %v", loss.Item(), g.Tensors["loss"].Data[0])
	}
	loss.Backward()
	worst := 0.0
	for _, p := range nn.Params(c) {
		want, ok := g.Tensors["grad."+p.Name]
		if !ok {
			t.Fatalf("no PyTorch gradient for %s", p.Name)
		}
		d, scale := maxAbsDiff(p.Grad.Data, want.Data)
		if rel := d / math.Max(scale, 1e-6); rel > 1e-3 {
			t.Errorf("gradient of %s differs by %.2g relative", p.Name, rel)
		} else {
			worst = math.Max(worst, rel)
		}
	}
	t.Logf("worst relative gradient difference %.2g", worst)

	// Each sequence alone classifies exactly as in the padded batch.
	inf := nn.Detach(c)
	for i, s := range batch {
		alone := inf.Forward(data.Pad([][]int{s}))
		for k := range alone.Data {
			if d := math.Abs(float64(alone.Data[k] - logits.Data[i*len(alone.Data)+k])); d > 1e-5 {
				t.Fatalf("sequence %d: logit %d is %v alone, %v padded", i, k, alone.Data[k], logits.Data[i*len(alone.Data)+k])
			}
		}
	}

	// Saved and reloaded under Hugging Face's names, it gives the same logits.
	ts := map[string]*tensor.Tensor{}
	for _, p := range nn.Params(c) {
		ts[p.Name] = p.Tensor
	}
	c2, _ := NewClassifier(mustNew(t, m.Config), c.Classes(), rand.New(rand.NewPCG(2, 2)))
	if err := c2.LoadTensors(ts); err != nil {
		t.Fatal(err)
	}
	again := nn.Detach(c2).Forward(data.Pad(batch))
	if d, _ := maxAbsDiff(again.Data, logits.Data); d != 0 {
		t.Fatalf("reloaded classifier differs by %g", d)
	}
}

func mustNew(t *testing.T, cfg Config) *Model {
	m, err := New(cfg, rand.New(rand.NewPCG(3, 3)))
	if err != nil {
		t.Fatal(err)
	}
	return m
}
