package kernel

// Packing copies blocks of A and B into the panel layouts the micro-kernels
// read. It is a tenth to a fifth of a GEMM's time, so the common panel
// widths (6 and 4 rows of A, 16, 32 and 4 columns of B) have unrolled loops or
// assembly that move fixed-size blocks; other widths take the generic loops.

// maxDeep bounds impl.deep, the deepest block.
const maxDeep = 768

// zeroRow is the rows past the end of a partial A panel, for packA.
var zeroRow [maxDeep]float32

// packA copies the mb×kb block of alpha·op(A) starting at (ic, pc) into ap as
// row panels of mr rows: panel r holds, for each p, the mr values
// op(A)[ic+r*mr+0..mr-1][pc+p]. Rows past mb are zero.
//
// ap must extend at least 2 floats past the last panel (the assembly writes
// whole 32-byte rows).
func packA(ap []float32, im *impl, transA bool, a []float32, lda, ic, pc, mb, kb int, alpha float32) {
	mr := im.mr
	r0 := 0
	if transA && mr == 12 {
		// op(A)[i][p] = A[p][i]: the block's rows of A read one after
		// another (mb values each), their values dealt out to the 12-row
		// panels, the last one padded with zeros. Panel by panel, every
		// panel would visit all kb rows again: with A a wide matrix (a
		// language model's logit gradient, 50,257 values a row) each row
		// is another page.
		full := mb - mb%12
		r1 := 0 // panels dealt so far
		if im.packAT12 != nil && full > 0 && kb > 0 {
			_ = a[(pc+kb-1)*lda+ic+full-1]
			_ = ap[full*kb-1]
			im.packAT12(kb, full/12, &a[pc*lda+ic], lda, &ap[0], 12*kb, alpha)
			r1 = full
		}
		for p := 0; p < kb && r1 < mb; p++ { // what the kernel did not deal
			src := a[(pc+p)*lda+ic : (pc+p)*lda+ic+mb]
			for r := r1; r < full; r += 12 {
				d, s := (*[12]float32)(ap[r*kb+p*12:r*kb+p*12+12]), (*[12]float32)(src[r:r+12])
				if alpha == 1 { // element by element: *d = *s is a memmove call per 48 bytes
					d[0], d[1], d[2], d[3], d[4], d[5] = s[0], s[1], s[2], s[3], s[4], s[5]
					d[6], d[7], d[8], d[9], d[10], d[11] = s[6], s[7], s[8], s[9], s[10], s[11]
					continue
				}
				for i, v := range s {
					d[i] = alpha * v
				}
			}
			if full < mb {
				d := (*[12]float32)(ap[full*kb+p*12 : full*kb+p*12+12])
				for i := range d {
					d[i] = 0
					if full+i < mb {
						d[i] = alpha * src[full+i]
					}
				}
			}
		}
		r0 = mb
	}
	for r := r0; r < mb; r += mr {
		panel := ap[r*kb : (r+mr)*kb]
		rows := min(mr, mb-r)
		switch {
		case transA && rows == 6 && mr == 6 && alpha == 1:
			// op(A)[i][p] = A[p][i]: each step's 6 values are contiguous in A.
			for p := 0; p < kb; p++ {
				off := (pc+p)*lda + ic + r
				d, src := (*[6]float32)(panel[p*6:p*6+6]), (*[6]float32)(a[off:off+6])
				d[0], d[1], d[2], d[3], d[4], d[5] = src[0], src[1], src[2], src[3], src[4], src[5] // not memmove: a call per 24 bytes
			}
		case transA:
			// op(A)[i][p] = A[p][i]: each step's mr values are contiguous in A.
			for p := 0; p < kb; p++ {
				src := a[(pc+p)*lda+ic+r:]
				dst := panel[p*mr : p*mr+mr]
				for i := range dst {
					if i < rows {
						dst[i] = alpha * src[i]
					} else {
						dst[i] = 0
					}
				}
			}
		case rows == 6 && mr == 6:
			row := func(i int) []float32 { return a[(ic+r+i)*lda+pc : (ic+r+i)*lda+pc+kb] }
			r0, r1, r2, r3, r4, r5 := row(0), row(1), row(2), row(3), row(4), row(5)
			r1, r2, r3, r4, r5 = r1[:len(r0)], r2[:len(r0)], r3[:len(r0)], r4[:len(r0)], r5[:len(r0)]
			p0 := 0
			if im.packA6 != nil && kb >= 8 {
				p0 = kb &^ 7
				_ = ap[r*kb+6*p0+1] // room for the last 32-byte store
				im.packA6(p0, &r0[0], lda, &ap[r*kb], alpha)
			}
			for p := p0; p < len(r0); p++ {
				d := (*[6]float32)(panel[p*6 : p*6+6])
				d[0], d[1], d[2] = alpha*r0[p], alpha*r1[p], alpha*r2[p]
				d[3], d[4], d[5] = alpha*r3[p], alpha*r4[p], alpha*r5[p]
			}
		case mr == 12 && (rows == 12 || kb <= len(zeroRow)):
			// Twelve rows read side by side, each step's twelve values
			// stored together (the AVX-512 tile): contiguous stores instead
			// of one every 48 bytes. A panel's missing rows read zeros.
			row := func(i int) []float32 {
				if i >= rows {
					return zeroRow[:kb]
				}
				return a[(ic+r+i)*lda+pc : (ic+r+i)*lda+pc+kb]
			}
			r0, r1, r2, r3, r4, r5 := row(0), row(1), row(2), row(3), row(4), row(5)
			r6, r7, r8, r9, r10, r11 := row(6), row(7), row(8), row(9), row(10), row(11)
			r1, r2, r3, r4, r5 = r1[:len(r0)], r2[:len(r0)], r3[:len(r0)], r4[:len(r0)], r5[:len(r0)]
			r6, r7, r8, r9, r10, r11 = r6[:len(r0)], r7[:len(r0)], r8[:len(r0)], r9[:len(r0)], r10[:len(r0)], r11[:len(r0)]
			p0 := 0
			if im.packBT12 != nil && rows == 12 && kb >= 8 {
				// Eight steps at a time, transposed in registers.
				p0 = kb &^ 7
				_ = r11[p0-1]
				_ = panel[p0*12-1]
				im.packBT12(p0, &r0[0], lda, &panel[0], 12, alpha)
			}
			for p := p0; p < len(r0); p++ {
				d := (*[12]float32)(panel[p*12 : p*12+12])
				d[0], d[1], d[2], d[3] = alpha*r0[p], alpha*r1[p], alpha*r2[p], alpha*r3[p]
				d[4], d[5], d[6], d[7] = alpha*r4[p], alpha*r5[p], alpha*r6[p], alpha*r7[p]
				d[8], d[9], d[10], d[11] = alpha*r8[p], alpha*r9[p], alpha*r10[p], alpha*r11[p]
			}
		case rows == 4 && mr == 4:
			row := func(i int) []float32 { return a[(ic+r+i)*lda+pc : (ic+r+i)*lda+pc+kb] }
			r0, r1, r2, r3 := row(0), row(1), row(2), row(3)
			r1, r2, r3 = r1[:len(r0)], r2[:len(r0)], r3[:len(r0)]
			for p := range r0 {
				d := (*[4]float32)(panel[p*4 : p*4+4])
				d[0], d[1], d[2], d[3] = alpha*r0[p], alpha*r1[p], alpha*r2[p], alpha*r3[p]
			}
		default:
			for i := 0; i < mr; i++ {
				if i >= rows {
					for p := 0; p < kb; p++ {
						panel[p*mr+i] = 0
					}
					continue
				}
				src := a[(ic+r+i)*lda+pc : (ic+r+i)*lda+pc+kb]
				for p, v := range src {
					panel[p*mr+i] = alpha * v
				}
			}
		}
	}
}

// packB copies the kb×nb block of op(B) starting at (pc, jc) into bp as
// column panels of nr columns: panel q holds, for each p, the nr values
// op(B)[pc+p][jc+q*nr+0..nr-1]. Columns past nb are zero.
func packB(bp []float32, im *impl, transB bool, b []float32, ldb, pc, jc, kb, nb int) {
	nr := im.nr
	if !transB && nr%16 == 0 {
		// Eight rows at a time, panel by panel: reading B down a column of
		// panels would jump a whole row of B per 64 bytes and defeat the
		// prefetchers, and writing one row across all panels would hit one
		// L1 set per panel (they are kb·nr·4 bytes apart) and thrash it.
		full := nb - nb%nr
		for p0 := 0; p0 < kb; p0 += 8 {
			rows := min(8, kb-p0)
			for q := 0; q < full; q += nr {
				for h := 0; h < nr; h += 16 {
					copyRows16(im, rows, b[(pc+p0)*ldb+jc+q+h:], ldb, bp[q*kb+p0*nr+h:], nr)
				}
			}
			if full < nb {
				for p := p0; p < p0+rows; p++ {
					dst := bp[full*kb+p*nr : full*kb+p*nr+nr]
					n := copy(dst, b[(pc+p)*ldb+jc+full:(pc+p)*ldb+jc+nb])
					clear(dst[n:])
				}
			}
		}
		return
	}
	for q := 0; q < nb; q += nr {
		panel := bp[q*kb : (q+nr)*kb]
		cols := min(nr, nb-q)
		switch {
		case !transB:
			for p := 0; p < kb; p++ {
				dst := panel[p*nr : p*nr+nr]
				n := copy(dst[:cols], b[(pc+p)*ldb+jc+q:])
				clear(dst[n:])
			}
		case cols == nr && nr%16 == 0:
			// op(B)[p][j] = B[j][p]: 16 rows of B at a time read side by
			// side, into 16 columns of the panel.
			for h := 0; h < nr; h += 16 {
				var src [16][]float32
				for j := range src {
					src[j] = b[(jc+q+h+j)*ldb+pc : (jc+q+h+j)*ldb+pc+kb]
				}
				p0 := 0
				if im.packBT16 != nil && kb >= 8 {
					p0 = kb &^ 7
					_ = src[15][p0-1] // the assembly reads 16 rows of p0 values
					_ = panel[(p0-1)*nr+h+15]
					im.packBT16(p0, &src[0][0], ldb, &panel[h], nr)
				}
				for p := p0; p < kb; p++ {
					d := (*[16]float32)(panel[p*nr+h : p*nr+h+16])
					for j := range d {
						d[j] = src[j][p]
					}
				}
			}
		default:
			for j := 0; j < nr; j++ {
				if j >= cols {
					for p := 0; p < kb; p++ {
						panel[p*nr+j] = 0
					}
					continue
				}
				src := b[(jc+q+j)*ldb+pc : (jc+q+j)*ldb+pc+kb]
				for p, v := range src {
					panel[p*nr+j] = v
				}
			}
		}
	}
}

// copyRows16 copies rows of 16 floats from src (row stride ld) to dst (row
// stride dstride).
func copyRows16(im *impl, rows int, src []float32, ld int, dst []float32, dstride int) {
	_, _ = src[(rows-1)*ld+15], dst[(rows-1)*dstride+15]
	if im.copyRows16 != nil {
		im.copyRows16(rows, &src[0], ld, &dst[0], dstride)
		return
	}
	for r := 0; r < rows; r++ {
		*(*[16]float32)(dst[r*dstride:]) = *(*[16]float32)(src[r*ld:])
	}
}
