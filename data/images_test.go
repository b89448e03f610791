package data_test

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moxing/moxing/data"
	"github.com/moxing/moxing/tensor"
)

// idxBytes encodes a uint8 IDX array.
func idxBytes(dims []int, values []byte) []byte {
	var b bytes.Buffer
	b.Write([]byte{0, 0, 0x08, byte(len(dims))})
	for _, d := range dims {
		binary.Write(&b, binary.BigEndian, uint32(d))
	}
	b.Write(values)
	return b.Bytes()
}

func gz(b []byte) []byte {
	var out bytes.Buffer
	w := gzip.NewWriter(&out)
	w.Write(b)
	w.Close()
	return out.Bytes()
}

func TestReadIDX(t *testing.T) {
	raw := idxBytes([]int{2, 2, 3}, []byte{0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255})
	for name, in := range map[string][]byte{"plain": raw, "gzip": gz(raw)} {
		idx, err := data.ReadIDX(bytes.NewReader(in), name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(idx.Dims) != 3 || idx.Dims[0] != 2 || idx.Dims[2] != 3 || idx.Data[5] != 5 || idx.Data[11] != 255 {
			t.Errorf("%s: got dims %v data %v", name, idx.Dims, idx.Data)
		}
	}
	// float32 and int16 elements.
	var b bytes.Buffer
	b.Write([]byte{0, 0, 0x0D, 1, 0, 0, 0, 2})
	binary.Write(&b, binary.BigEndian, []float32{1.5, -2})
	if idx, err := data.ReadIDX(&b, "f32"); err != nil || idx.Data[0] != 1.5 || idx.Data[1] != -2 {
		t.Errorf("float32 IDX: %v %v", idx, err)
	}
}

func TestReadIDXBadInput(t *testing.T) {
	raw := idxBytes([]int{2, 3}, []byte{1, 2, 3, 4, 5, 6})
	for _, c := range []struct {
		name string
		in   []byte
		want string
	}{
		{"empty.idx", nil, "header missing"},
		{"magic.idx", append([]byte{1, 2, 3, 4}, raw[4:]...), "magic number"},
		{"type.idx", append([]byte{0, 0, 0x07, 2}, raw[4:]...), "magic number"},
		{"truncated.idx", raw[:len(raw)-1], "truncated"},
		{"truncated.idx.gz", gz(raw[:len(raw)-2]), "truncated"},
		{"header.idx", raw[:9], "truncated header"},
		{"long.idx", append(append([]byte{}, raw...), 7), "more data"},
		{"huge.idx", idxBytes([]int{1 << 20, 1 << 20, 1 << 20}, nil), "over"},
		{"gzip.idx.gz", []byte{0x1f, 0x8b, 1}, "gzip"},
	} {
		_, err := data.ReadIDX(bytes.NewReader(c.in), c.name)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.name) {
			t.Errorf("%s: error %v, want one naming the file and containing %q", c.name, err, c.want)
		}
	}
}

func TestLoadIDXImagesLabelMismatch(t *testing.T) {
	dir := t.TempDir()
	im, lb := filepath.Join(dir, "im"), filepath.Join(dir, "lb")
	os.WriteFile(im, idxBytes([]int{3, 2, 2}, make([]byte, 12)), 0o644)
	os.WriteFile(lb, idxBytes([]int{2}, []byte{1, 0}), 0o644)
	if _, err := data.LoadIDXImages(im, lb); err == nil || !strings.Contains(err.Error(), "for 3 images") {
		t.Errorf("label count mismatch: %v", err)
	}
	os.WriteFile(lb, idxBytes([]int{3}, []byte{1, 0, 2}), 0o644)
	d, err := data.LoadIDXImages(im, lb)
	if err != nil || d.Len() != 3 || d.X.Dim(1) != 1 || d.Labels[2] != 2 {
		t.Fatalf("LoadIDXImages: %v, %v", d, err)
	}
	if _, _, err := data.MNIST(dir); err == nil || !strings.Contains(err.Error(), "train-images-idx3-ubyte") {
		t.Errorf("MNIST of a folder without its files: %v", err)
	}
}

// TestMNIST reads the real files (scripts/fetch-data.sh installs them; under
// CI=true their absence fails the test).
func TestMNIST(t *testing.T) {
	dir := filepath.Join(dataRoot(), "mnist")
	if _, err := os.Stat(dir); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("MNIST missing (run scripts/fetch-data.sh): %v", err)
		}
		t.Skip("MNIST not installed; run scripts/fetch-data.sh")
	}
	tr, te, err := data.MNIST(dir)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Len() != 60000 || te.Len() != 10000 || tr.X.Dim(2) != 28 || tr.X.Dim(3) != 28 {
		t.Fatalf("MNIST: %d train %v, %d test", tr.Len(), tr.X.Shape(), te.Len())
	}
	// The well-known first labels of each file.
	if tr.Labels[0] != 5 || tr.Labels[1] != 0 || te.Labels[0] != 7 {
		t.Errorf("first labels %d %d (train), %d (test); want 5 0, 7", tr.Labels[0], tr.Labels[1], te.Labels[0])
	}
	counts := make([]int, 10)
	for _, l := range tr.Labels {
		counts[l]++
	}
	if counts[1] != 6742 {
		t.Errorf("%d training ones, want 6742", counts[1])
	}
	norm := data.FitImageNorm(tr.X)
	if d := norm.Mean[0] - 0.1307; d > 1e-3 || d < -1e-3 {
		t.Errorf("mean %v, want 0.1307", norm.Mean)
	}
	if d := norm.Std[0] - 0.3081; d > 1e-3 || d < -1e-3 {
		t.Errorf("std %v, want 0.3081", norm.Std)
	}
}

func dataRoot() string {
	if d := os.Getenv("MOXING_DATA"); d != "" {
		return d
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "moxing", "data")
}

func TestReadImage(t *testing.T) {
	dir := t.TempDir()
	img := image.NewRGBA(image.Rect(0, 0, 3, 2))
	img.Set(1, 0, color.White)
	img.Set(2, 1, color.RGBA{R: 255, A: 255})
	var b bytes.Buffer
	png.Encode(&b, img)
	path := filepath.Join(dir, "x.png")
	os.WriteFile(path, b.Bytes(), 0o644)
	x, err := data.ReadImage(path)
	if err != nil {
		t.Fatal(err)
	}
	if s := x.Shape(); len(s) != 3 || s[0] != 1 || s[1] != 2 || s[2] != 3 {
		t.Fatalf("shape %v", s)
	}
	if x.Data[1] != 1 || x.Data[0] != 0 || x.Data[5] < 0.29 || x.Data[5] > 0.31 {
		t.Errorf("gray levels %v", x.Data)
	}
	bad := filepath.Join(dir, "bad.png")
	os.WriteFile(bad, []byte("not an image"), 0o644)
	if _, err := data.ReadImage(bad); err == nil || !strings.Contains(err.Error(), "bad.png") {
		t.Errorf("bad image: %v", err)
	}
}

func TestRandomShiftAndNorm(t *testing.T) {
	x := tensor.Zeros(50, 1, 5, 5)
	for i := 0; i < 50; i++ {
		x.Data[i*25+12] = 1 // a dot in the centre
	}
	y := data.RandomShift(x, 2, []float32{-1}, rand.New(rand.NewPCG(1, 2)))
	moved := 0
	for i := 0; i < 50; i++ {
		img, ones, fills := y.Data[i*25:(i+1)*25], 0, 0
		for _, v := range img {
			switch v {
			case 1:
				ones++
			case -1:
				fills++
			}
		}
		if ones != 1 {
			t.Fatalf("image %d: the dot left the image or doubled: %v", i, img)
		}
		if img[12] != 1 {
			moved++
		}
	}
	if moved < 30 {
		t.Errorf("only %d of 50 images moved", moved)
	}
	n := data.ImageNorm{Mean: []float32{0.5}, Std: []float32{2}}
	z := tensor.New([]float32{0.5, 2.5, 1.5, -1.5}, 1, 1, 2, 2)
	if err := n.Apply(z); err != nil || z.Data[1] != 1 || z.Data[3] != -1 {
		t.Errorf("Apply: %v %v", z, err)
	}
	if err := n.Apply(tensor.Zeros(1, 3, 2, 2)); err == nil {
		t.Error("Apply to 3 channels with a 1-channel norm: no error")
	}
}

// FuzzReadIDX: any input either fails with an error or yields an array whose
// size matches its dimensions. Nothing panics.
func FuzzReadIDX(f *testing.F) {
	f.Add(idxBytes([]int{2, 3}, []byte{1, 2, 3, 4, 5, 6}))
	f.Add(gz(idxBytes([]int{1}, []byte{9})))
	f.Add([]byte{0, 0, 0x0E, 1, 0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8})
	f.Fuzz(func(t *testing.T, in []byte) {
		idx, err := data.ReadIDX(bytes.NewReader(in), "fuzz.idx")
		if err != nil {
			return
		}
		n := 1
		for _, d := range idx.Dims {
			n *= d
		}
		if n != len(idx.Data) {
			t.Fatalf("dims %v but %d elements", idx.Dims, len(idx.Data))
		}
	})
}

// An IDX file of no images is an error naming it, not a panic later.
func TestReadImagesOfShapeEmptyIDX(t *testing.T) {
	path := filepath.Join(t.TempDir(), "none-idx3-ubyte")
	os.WriteFile(path, idxBytes([]int{0, 4, 4}, nil), 0o644)
	if _, _, err := data.ReadImagesOfShape([]string{path}, [3]int{1, 4, 4}); err == nil || !strings.Contains(err.Error(), "holds no images") {
		t.Fatalf("an IDX file of 0 images: %v", err)
	}
}

// A small PNG that declares a huge image is refused from its header,
// before anything is decoded.
func TestReadImageRefusesHugeHeader(t *testing.T) {
	var buf bytes.Buffer
	png.Encode(&buf, image.NewGray(image.Rect(0, 0, 1, 1)))
	b := buf.Bytes()
	// IHDR follows the 8-byte signature: length, "IHDR", width, height, …, CRC.
	binary.BigEndian.PutUint32(b[16:], 65535)
	binary.BigEndian.PutUint32(b[20:], 65535)
	binary.BigEndian.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29]))
	path := filepath.Join(t.TempDir(), "bomb.png")
	os.WriteFile(path, b, 0o644)
	if _, err := data.ReadImage(path); err == nil || !strings.Contains(err.Error(), "65535×65535 pixels") {
		t.Fatalf("a 65535×65535 PNG of %d bytes: %v", len(b), err)
	}
}

// FuzzDecodeImage: any bytes either fail with an error or decode to a gray
// image within MaxImagePixels, values in [0, 1]. Nothing panics.
func FuzzDecodeImage(f *testing.F) {
	for _, img := range []image.Image{image.NewGray(image.Rect(0, 0, 3, 2)), image.NewRGBA(image.Rect(0, 0, 2, 2))} {
		var buf bytes.Buffer
		png.Encode(&buf, img)
		f.Add(buf.Bytes())
		buf.Reset()
		jpeg.Encode(&buf, img, nil)
		f.Add(buf.Bytes())
		buf.Reset()
		gif.Encode(&buf, img, nil)
		f.Add(buf.Bytes())
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		x, err := data.DecodeImage(bytes.NewReader(in), "fuzz")
		if err != nil {
			return
		}
		if s := x.Shape(); x.Numel() > data.MaxImagePixels || len(s) != 3 || s[0] != 1 {
			t.Fatalf("shape %v", x.Shape())
		}
		for _, v := range x.Data {
			if !(v >= 0 && v <= 1) {
				t.Fatalf("gray level %v", v)
			}
		}
	})
}
