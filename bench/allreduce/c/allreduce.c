/* MPI_Allreduce called from C on the buffer main.go uses: the peer of
   moxing's wrapper (see run.sh). Arguments: floats, iterations, and the
   floats per call (0: the whole buffer in one call). */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
	long n = argc > 1 ? atol(argv[1]) : 124439808L;
	int iters = argc > 2 ? atoi(argv[2]) : 5;
	long bucket = argc > 3 ? atol(argv[3]) : 0;
	if (bucket <= 0 || bucket > n) bucket = n;
	int rank, size;
	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	float *buf = malloc(n * sizeof(float));
	for (long i = 0; i < n; i++) buf[i] = 1;
	MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
	MPI_Barrier(MPI_COMM_WORLD);
	double start = MPI_Wtime();
	for (int i = 0; i < iters; i++)
		for (long off = 0; off < n; off += bucket)
			MPI_Allreduce(MPI_IN_PLACE, buf + off, (int)(n - off < bucket ? n - off : bucket), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
	MPI_Barrier(MPI_COMM_WORLD);
	double secs = (MPI_Wtime() - start) / iters;
	if (rank == 0)
		printf("c (MPI_Allreduce, %ld floats a call): %d ranks, %ld floats (%.0f MB): %.3f s per all-reduce, bus bandwidth %.2f GB/s\n",
		       bucket, size, n, 4.0 * n / 1e6, secs, 2.0 * (size - 1) / size * 4.0 * n / secs / 1e9);
	free(buf);
	MPI_Finalize();
	return 0;
}
