package progress_test

import (
	"strings"
	"testing"

	"github.com/moxing/moxing/progress"
	"github.com/moxing/moxing/train"
)

// Away from a terminal, each evaluation is one line, the best marked.
func TestLines(t *testing.T) {
	var b strings.Builder
	p := progress.New(&b, 3)
	p.Batch(train.Batch{Epoch: 1, Epochs: 5, Batch: 1, Batches: 2})
	p.Epoch(train.Epoch{Epoch: 1, TrainLoss: 0.5, Val: map[string]float64{"val_loss": 0.4, "val_accuracy": 0.9}, Best: true, Seconds: 0.1})
	p.Epoch(train.Epoch{Epoch: 2, TrainLoss: 0.3, Val: map[string]float64{"val_loss": 0.45}, Seconds: 0.1})
	p.Finish()
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "epoch 1  train_loss 0.5000") || !strings.Contains(lines[0], "*") || strings.Contains(lines[1], "*") {
		t.Fatalf("%q", b.String())
	}
	b.Reset()
	s := progress.NewSteps(&b)
	s.Epoch(train.Epoch{Epoch: 100, TrainLoss: 2, Val: map[string]float64{"val_loss": 2.5}, LR: 1e-3})
	if !strings.HasPrefix(b.String(), "step 100  train_loss 2.0000  val_loss 2.5000") {
		t.Fatalf("%q", b.String())
	}
}
