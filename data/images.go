package data

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	_ "image/gif" // registers the decoders ReadImage accepts
	_ "image/jpeg"
	_ "image/png"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/moxing/moxing/tensor"
)

// IDX is an array read from an IDX file, the format of MNIST: a 4-byte
// magic number (two zero bytes, a type code, the number of dimensions), the
// dimensions as big-endian uint32, then the elements in row-major order.
type IDX struct {
	Dims []int
	Data []float32 // elements converted to float32
}

// idxTypes maps an IDX type code to its element size.
var idxTypes = map[byte]int{0x08: 1, 0x09: 1, 0x0B: 2, 0x0C: 4, 0x0D: 4, 0x0E: 8}

// maxIDXElements bounds what a header may announce (2³⁰ elements, 4 GiB as
// float32), so a hostile header cannot make a reader allocate without end.
const maxIDXElements = 1 << 30

// ReadIDX reads an IDX array from r (gzip is detected); name labels errors.
// A wrong magic number, an unknown type, a size that overflows, or data
// shorter or longer than the header says, and a float element that is NaN,
// infinite or beyond float32, are errors naming the file.
func ReadIDX(r io.Reader, name string) (*IDX, error) {
	br := bufio.NewReader(r)
	if magic, err := br.Peek(2); err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%s: gzip: %w", name, err)
		}
		defer zr.Close()
		br = bufio.NewReader(zr)
	}
	var head [4]byte
	if _, err := io.ReadFull(br, head[:]); err != nil {
		return nil, fmt.Errorf("%s: not an IDX file: %d-byte header missing (%v)", name, len(head), err)
	}
	size, ok := idxTypes[head[2]]
	if head[0] != 0 || head[1] != 0 || !ok || head[3] == 0 {
		return nil, fmt.Errorf("%s: not an IDX file: magic number %#08x (want 0x0000TTDD: type 08, 09, 0B, 0C, 0D or 0E and at least one dimension)",
			name, binary.BigEndian.Uint32(head[:]))
	}
	idx := &IDX{Dims: make([]int, head[3])}
	n := 1
	for i := range idx.Dims {
		var d [4]byte
		if _, err := io.ReadFull(br, d[:]); err != nil {
			return nil, fmt.Errorf("%s: truncated header: dimension %d of %d missing", name, i+1, len(idx.Dims))
		}
		idx.Dims[i] = int(binary.BigEndian.Uint32(d[:]))
		n *= idx.Dims[i]
		if n > maxIDXElements {
			return nil, fmt.Errorf("%s: header announces dimensions %v, over %d elements", name, idx.Dims[:i+1], maxIDXElements)
		}
	}
	// The data is decoded as it arrives, into a slice grown by append: the
	// header's count is not trusted with an allocation, and memory stays at
	// 4 bytes an element actually present (a gzip bomb is bounded by what it
	// really expands to, at most maxIDXElements).
	idx.Data = make([]float32, 0, min(n, 1<<20))
	buf := make([]byte, 64<<10-(64<<10)%size)
	for len(idx.Data) < n {
		want := min(len(buf), (n-len(idx.Data))*size)
		got, err := io.ReadFull(br, buf[:want])
		idx.Data = appendIDX(idx.Data, buf[:got-got%size], head[2])
		if err == io.ErrUnexpectedEOF || err == io.EOF {
			return nil, fmt.Errorf("%s: truncated: the header announces %v elements of %d bytes (%d bytes), the file has %d", name, idx.Dims, size, n*size, len(idx.Data)*size+got%size)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	if _, err := br.ReadByte(); err != io.EOF {
		return nil, fmt.Errorf("%s: more data than the %v elements of %d bytes the header announces", name, idx.Dims, size)
	}
	if head[2] == 0x0D || head[2] == 0x0E {
		for i, v := range idx.Data {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, fmt.Errorf("%s: element %d is %v (NaN, infinite or beyond float32's range)", name, i, v)
			}
		}
	}
	return idx, nil
}

// appendIDX appends the elements of raw, big-endian values of IDX type typ,
// to dst as float32.
func appendIDX(dst []float32, raw []byte, typ byte) []float32 {
	size := idxTypes[typ]
	for i := 0; i+size <= len(raw); i += size {
		b := raw[i : i+size]
		var v float32
		switch typ {
		case 0x08:
			v = float32(b[0])
		case 0x09:
			v = float32(int8(b[0]))
		case 0x0B:
			v = float32(int16(binary.BigEndian.Uint16(b)))
		case 0x0C:
			v = float32(int32(binary.BigEndian.Uint32(b)))
		case 0x0D:
			v = math.Float32frombits(binary.BigEndian.Uint32(b))
		case 0x0E:
			v = float32(math.Float64frombits(binary.BigEndian.Uint64(b)))
		}
		dst = append(dst, v)
	}
	return dst
}

// ReadIDXFile reads the IDX file at path.
func ReadIDXFile(path string) (*IDX, error) {
	f, err := OpenFile(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadIDX(f, path)
}

// LoadIDXImages reads an image file (N, H, W) of bytes and, when labels is
// not "", a label file (N) of class indices, such as MNIST's, into a
// Dataset with X (N, 1, H, W) scaled to [0, 1]. Lines holds each image's
// index in the file.
func LoadIDXImages(images, labels string) (*Dataset, error) {
	im, err := ReadIDXFile(images)
	if err != nil {
		return nil, err
	}
	if len(im.Dims) != 3 {
		return nil, fmt.Errorf("%s: images of dimensions %v, want (N, height, width)", images, im.Dims)
	}
	d := &Dataset{X: tensor.New(im.Data, im.Dims[0], 1, im.Dims[1], im.Dims[2]), Lines: make([]int, im.Dims[0])}
	for i := range d.Lines {
		d.Lines[i] = i
	}
	for i, v := range im.Data {
		im.Data[i] = v / 255
	}
	if labels == "" {
		return d, nil
	}
	lb, err := ReadIDXFile(labels)
	if err != nil {
		return nil, err
	}
	if len(lb.Dims) != 1 || lb.Dims[0] != im.Dims[0] {
		return nil, fmt.Errorf("%s: labels of dimensions %v for %d images in %s", labels, lb.Dims, im.Dims[0], images)
	}
	d.Labels = make([]int, len(lb.Data))
	for i, v := range lb.Data {
		if v < 0 || v != float32(int(v)) {
			return nil, fmt.Errorf("%s: label %d is %v, want a class index ≥ 0", labels, i, v)
		}
		d.Labels[i] = int(v)
	}
	return d, nil
}

// MNIST reads the MNIST training and test sets from dir, which holds
// {train,t10k}-{images-idx3,labels-idx1}-ubyte, gzipped (.gz) or not
// (scripts/fetch-data.sh installs them in $MOXING_DATA/mnist).
func MNIST(dir string) (trainSet, testSet *Dataset, err error) {
	find := func(stem string) (string, error) {
		for _, p := range []string{stem + ".gz", stem} {
			if _, err := os.Stat(filepath.Join(dir, p)); err == nil {
				return filepath.Join(dir, p), nil
			}
		}
		return "", fmt.Errorf("%s: no %s or %s.gz (scripts/fetch-data.sh installs MNIST in $MOXING_DATA/mnist)", dir, stem, stem)
	}
	var paths [4]string
	for i, stem := range []string{"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"} {
		if paths[i], err = find(stem); err != nil {
			return nil, nil, err
		}
	}
	if trainSet, err = LoadIDXImages(paths[0], paths[1]); err != nil {
		return nil, nil, err
	}
	if testSet, err = LoadIDXImages(paths[2], paths[3]); err != nil {
		return nil, nil, err
	}
	return trainSet, testSet, nil
}

// MaxImagePixels bounds the images ReadImage decodes (4096×4096).
const MaxImagePixels = 1 << 24

// ReadImage decodes a PNG, JPEG or GIF file into a (1, H, W) tensor of
// gray levels in [0, 1] (ITU-R 601 luma, as image/color.GrayModel).
func ReadImage(path string) (*tensor.Tensor, error) {
	f, err := OpenFile(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return DecodeImage(f, path)
}

// DecodeImage is ReadImage of the image r holds; name labels errors. The
// header's size is checked against MaxImagePixels before any pixel is
// decoded: a small file may declare 65535×65535 pixels.
func DecodeImage(r io.ReadSeeker, name string) (*tensor.Tensor, error) {
	cfg, _, err := image.DecodeConfig(bufio.NewReader(r))
	if err == nil && int64(cfg.Width)*int64(cfg.Height) > MaxImagePixels {
		return nil, fmt.Errorf("%s: %d×%d pixels, over the %d this reads", name, cfg.Width, cfg.Height, MaxImagePixels)
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	img, _, err := image.Decode(bufio.NewReader(r))
	if err != nil {
		if errors.Is(err, image.ErrFormat) {
			return nil, fmt.Errorf("%s: not a PNG, JPEG or GIF image", name)
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	b := img.Bounds()
	x := tensor.Zeros(1, b.Dy(), b.Dx())
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for xx := b.Min.X; xx < b.Max.X; xx++ {
			r, g, bl, _ := img.At(xx, y).RGBA()
			lum := (19595*r + 38470*g + 7471*bl + 1<<15) >> 16 // as color.GrayModel, 16-bit
			x.Data[(y-b.Min.Y)*b.Dx()+xx-b.Min.X] = float32(lum) / 0xffff
		}
	}
	return x, nil
}

// ImageNorm standardises each channel of (N, C, H, W) images:
// x' = (x - Mean[c]) / Std[c]. It is fitted on the training images and saved
// with the model, so that prediction applies the same map.
type ImageNorm struct {
	Mean []float32 `json:"mean"`
	Std  []float32 `json:"std"`
}

// FitImageNorm computes the mean and standard deviation of each channel of
// x (N, C, H, W) over all images and positions.
func FitImageNorm(x *tensor.Tensor) ImageNorm {
	c, per := x.Dim(1), x.Dim(2)*x.Dim(3)
	n := ImageNorm{Mean: make([]float32, c), Std: make([]float32, c)}
	for ch := 0; ch < c; ch++ {
		var s, ss float64
		for i := 0; i < x.Dim(0); i++ {
			for _, v := range x.Data[(i*c+ch)*per : (i*c+ch+1)*per] {
				s += float64(v)
				ss += float64(v) * float64(v)
			}
		}
		m := float64(x.Dim(0) * per)
		mean := s / m
		n.Mean[ch], n.Std[ch] = float32(mean), float32(math.Sqrt(max(ss/m-mean*mean, 1e-12)))
	}
	return n
}

// Apply standardises x (N, C, H, W) in place. It returns an error when x
// has another number of channels than the norm was fitted on.
func (n ImageNorm) Apply(x *tensor.Tensor) error {
	if x.NDim() != 4 || x.Dim(1) != len(n.Mean) {
		return fmt.Errorf("data: images of shape %v, want (N, %d, H, W)", x.Shape(), len(n.Mean))
	}
	c, per := x.Dim(1), x.Dim(2)*x.Dim(3)
	for i := 0; i < x.Dim(0); i++ {
		for ch := 0; ch < c; ch++ {
			row := x.Data[(i*c+ch)*per : (i*c+ch+1)*per]
			for j, v := range row {
				row[j] = (v - n.Mean[ch]) / n.Std[ch]
			}
		}
	}
	return nil
}

// Background is the standardised value of a 0 pixel in each channel, the
// fill for RandomShift.
func (n ImageNorm) Background() []float32 {
	f := make([]float32, len(n.Mean))
	for i := range f {
		f[i] = -n.Mean[i] / n.Std[i]
	}
	return f
}

// RandomShift returns a copy of the images x (N, C, H, W), each moved by
// its own random offset of up to maxShift pixels along each axis, with the
// uncovered border filled with fill[c] (one value per channel): the
// translation augmentation used for MNIST.
func RandomShift(x *tensor.Tensor, maxShift int, fill []float32, rng *rand.Rand) *tensor.Tensor {
	n, c, h, w := x.Dim(0), x.Dim(1), x.Dim(2), x.Dim(3)
	out := tensor.Zeros(n, c, h, w)
	for i := 0; i < n; i++ {
		dy, dx := rng.IntN(2*maxShift+1)-maxShift, rng.IntN(2*maxShift+1)-maxShift
		for ch := 0; ch < c; ch++ {
			src := x.Data[(i*c+ch)*h*w : (i*c+ch+1)*h*w]
			dst := out.Data[(i*c+ch)*h*w : (i*c+ch+1)*h*w]
			for y := 0; y < h; y++ {
				sy := y - dy
				for xx := 0; xx < w; xx++ {
					sx := xx - dx
					if sy < 0 || sy >= h || sx < 0 || sx >= w {
						dst[y*w+xx] = fill[ch]
					} else {
						dst[y*w+xx] = src[sy*w+sx]
					}
				}
			}
		}
	}
	return out
}
