package train_test

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moxing/moxing/models/gpt"
	"github.com/moxing/moxing/train"
)

// A run folder is created only where nothing is, and OpenRun reads its
// settings back.
func TestCreateAndOpenRun(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	type settings struct{ Steps int }
	if _, err := train.CreateRun(dir, settings{7}); err != nil {
		t.Fatal(err)
	}
	if _, err := train.CreateRun(dir, settings{8}); err == nil || !strings.Contains(err.Error(), "--resume") {
		t.Fatalf("creating a run over a used folder: %v", err)
	}
	var s settings
	if _, err := train.OpenRun(dir, &s); err != nil || s.Steps != 7 {
		t.Fatalf("OpenRun: %+v, %v", s, err)
	}
	if _, err := train.OpenRun(filepath.Join(dir, "missing"), &s); err == nil || !os.IsNotExist(errorsUnwrapAll(err)) {
		t.Fatalf("OpenRun of a missing folder: %v", err)
	}
}

func errorsUnwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok || u.Unwrap() == nil {
			return err
		}
		err = u.Unwrap()
	}
}

// ScoreText's mean over one window is the model's own loss on it, and
// each token's log-probability is reported in order.
func TestScoreText(t *testing.T) {
	m, err := gpt.New(gpt.Config{VocabSize: 11, BlockSize: 8, NEmbd: 8, NLayer: 1, NHead: 2}, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	ids := []int{1, 5, 2, 9, 3, 3, 0, 10, 4}
	_, loss := m.Forward(ids[:8], 1, 8, ids[1:])
	var seen []int
	mean, n, err := train.ScoreText(m, ids, 8, func(target int, lp float64) { seen = append(seen, target) })
	if err != nil {
		t.Fatal(err)
	}
	if n != 8 || math.Abs(mean-float64(loss.Item())) > 1e-5 || len(seen) != 8 || seen[7] != 4 {
		t.Fatalf("mean %v over %d tokens, the model's loss %v; saw %v", mean, n, loss.Item(), seen)
	}
	if short, n, _ := train.ScoreText(m, ids, 4, nil); n != 8 || short == mean { // the second window starts afresh at ids[4]
		t.Fatalf("%d tokens scored in windows of 4 (mean %v), want 8 with less context than one window", n, short)
	}
	if _, _, err := train.ScoreText(m, ids[:1], 8, nil); err == nil {
		t.Fatal("one token scored")
	}
}
