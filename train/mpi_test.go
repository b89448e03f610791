//go:build mpi

package train_test

// These tests run on each rank of an MPI job:
//
//	go test -c -tags mpi -o train.test ./train
//	mpirun -np 2 ./train.test -test.run MPI
//
// (scripts/test.sh does). Started alone, a process is rank 0 of 1, and
// they skip.

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/moxing/moxing/data"
	"github.com/moxing/moxing/dist"
	"github.com/moxing/moxing/models/gpt"
	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/train"
)

func mpiWorld(t *testing.T) dist.Comm {
	c, err := dist.World()
	if err != nil {
		t.Fatal(err)
	}
	if c.Size() < 2 {
		t.Skip("run under mpirun -np 2 or more")
	}
	return c
}

// Sums and broadcasts: a buffer of more than one bucket, and bytes.
func TestMPICollectives(t *testing.T) {
	c := mpiWorld(t)
	buf := make([]float32, dist.BucketFloats+1000)
	for i := range buf {
		buf[i] = float32(c.Rank()+1) * float32(i%7)
	}
	if err := dist.AllReduceBuckets(c, buf); err != nil {
		t.Fatal(err)
	}
	n := float32(c.Size() * (c.Size() + 1) / 2)
	for i, v := range buf {
		if v != n*float32(i%7) {
			t.Fatalf("rank %d: sum[%d] = %g, want %g", c.Rank(), i, v, n*float32(i%7))
		}
	}
	var blob []byte
	if c.Rank() == 0 {
		blob = []byte("from rank 0")
	}
	got, err := dist.BroadcastBlob(c, blob, 0)
	if err != nil || string(got) != "from rank 0" {
		t.Fatalf("rank %d: broadcast %q, %v", c.Rank(), got, err)
	}
}

// The all-reduced gradient of each rank's share of a batch is the
// gradient of the whole batch in one process, to 1e-6.
func TestMPIGradient(t *testing.T) {
	c := mpiWorld(t)
	tr, _, vocab := distCorpus()
	m, err := gpt.New(gpt.Config{VocabSize: vocab, BlockSize: 16, NEmbd: 16, NLayer: 2, NHead: 2}, rand.New(rand.NewPCG(1, 7)))
	if err != nil {
		t.Fatal(err)
	}
	const b, seq = 2, 16
	ranks := c.Size()
	x, y := data.Windows(tr, b*ranks, seq, rand.New(rand.NewPCG(5, 5)))
	grads := func(x, y []int, rows int) []float32 {
		params := nn.Params(m)
		for _, p := range params {
			p.ZeroGrad()
		}
		_, loss := m.Forward(x, rows, seq, y)
		loss.Backward()
		var flat []float32
		for _, p := range params {
			flat = append(flat, p.Grad.Data...)
		}
		return flat
	}
	whole := grads(x, y, b*ranks)
	r := c.Rank()
	mine := grads(x[r*b*seq:(r+1)*b*seq], y[r*b*seq:(r+1)*b*seq], b)
	if err := c.AllReduce(mine); err != nil {
		t.Fatal(err)
	}
	var worst float64
	for i := range whole {
		worst = max(worst, math.Abs(float64(mine[i]/float32(ranks)-whole[i])))
	}
	if worst > 1e-6 {
		t.Fatalf("rank %d: the all-reduced gradient differs from the whole batch's by %g", r, worst)
	}
}

// After 20 steps, the ranks' replicas are bit-identical, and each matches
// one process with the global batch.
func TestMPIReplicas(t *testing.T) {
	c := mpiWorld(t)
	ranks := c.Size()
	one := distLoop(t, 1, 2*ranks, 20, nil, nil)
	fitRanks(t, []*train.LM{one})
	mine := distLoop(t, uint64(1+c.Rank()), 2, 20, c, nil)
	fitRanks(t, []*train.LM{mine})
	if d := maxDiff(one, mine); d > 1e-5 {
		t.Fatalf("rank %d: %d ranks × batch 2 and 1 × batch %d differ by %g", c.Rank(), ranks, 2*ranks, d)
	}
	// Rank 0's weights, bit for bit, on every rank.
	var bits []byte
	for _, p := range nn.Params(mine.Model) {
		for _, v := range p.Data {
			bits = binary.LittleEndian.AppendUint32(bits, math.Float32bits(v))
		}
	}
	root := append([]byte(nil), bits...)
	if err := c.Broadcast(root, 0); err != nil {
		t.Fatal(err)
	}
	differ := []float32{0}
	if string(root) != string(bits) {
		differ[0] = 1
	}
	if err := c.AllReduce(differ); err != nil || differ[0] != 0 {
		t.Fatalf("%g ranks hold other weights than rank 0 (%v)", differ[0], err)
	}
}

// TestMain leaves the MPI job after the tests: a rank that exits without
// MPI_Finalize makes mpirun fail the job.
func TestMain(m *testing.M) {
	code := m.Run()
	if c, err := dist.World(); err == nil {
		code = dist.End(c, code)
	}
	os.Exit(code)
}
