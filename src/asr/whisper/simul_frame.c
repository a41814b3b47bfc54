/*
 * simul_frame.c - the attended frame of AlignAtt (spec "AlignAtt" in
 * shared/docs/streaming.md): from the alignment heads' cross-attention of a token row,
 * z-normalized per frame column, median-filtered along frames, averaged over the heads,
 * the argmax frame. Pure functions on the caller's buffers; simul.c keeps the running
 * column sums and calls whisper_simul_frame_of_row once per decoded token.
 */
#include <math.h>
#include <stdlib.h>

#include "asr/whisper/simul.h"

static float median7(float *v, int n)
{
    for (int i = 1; i < n; i++) {
        float x = v[i];
        int j = i - 1;
        while (j >= 0 && v[j] > x) {
            v[j + 1] = v[j];
            j--;
        }
        v[j + 1] = x;
    }
    return v[n / 2];
}

int whisper_simul_frame_of_row(const float *row, size_t head_stride, const double *sum, const double *sq,
                               int n_rows, int n_heads, int F, int n_crop, float *z, float *avg)
{
    const int half = WHISPER_SIMUL_MEDIAN / 2;
    const int Fz = n_crop + half < F ? n_crop + half : F; /* frames the filter reads */
    for (int f = 0; f < n_crop; f++)
        avg[f] = 0;
    for (int h = 0; h < n_heads; h++) {
        const float *r = row + (size_t)h * head_stride;
        for (int j = 0; j < Fz; j++) {
            double mean = sum[(size_t)h * F + j] / n_rows;
            double var = sq[(size_t)h * F + j] / n_rows - mean * mean;
            /* a constant column leaves only rounding in var: treat it as 0, as 0/0 would be */
            z[j] = var > 1e-10 * mean * mean && var > 0 ? (float)((r[j] - mean) / sqrt(var)) : 0.0f;
        }
        for (int f = 0; f < n_crop; f++) {
            float v[WHISPER_SIMUL_MEDIAN];
            if (F <= half) { /* too short to filter, as the reference leaves it */
                avg[f] += z[f] / n_heads;
                continue;
            }
            for (int k = -half; k <= half; k++) {
                int j = f + k;
                j = j < 0 ? -j : j >= F ? 2 * (F - 1) - j : j; /* reflect, no edge repeat */
                j = j < 0 ? 0 : j >= Fz ? Fz - 1 : j;
                v[k + half] = z[j];
            }
            avg[f] += median7(v, WHISPER_SIMUL_MEDIAN) / n_heads;
        }
    }
    int best = 0;
    for (int f = 1; f < n_crop; f++)
        if (avg[f] > avg[best])
            best = f;
    return best;
}

int whisper_simul_attended_frame(const float *attn, int n_heads, int n_rows, int n_frames, int row, int n_crop)
{
    if (!attn || n_heads < 1 || n_rows < 1 || n_frames < 1 || row < 0 || row >= n_rows || n_crop < 1 ||
        n_crop > n_frames)
        return -1;
    size_t hf = (size_t)n_heads * n_frames;
    double *sum = calloc(hf, sizeof *sum), *sq = calloc(hf, sizeof *sq);
    float *z = malloc(sizeof *z * (size_t)n_frames), *avg = malloc(sizeof *avg * (size_t)n_frames);
    int f = -1;
    if (sum && sq && z && avg) {
        for (int h = 0; h < n_heads; h++)
            for (int r = 0; r < n_rows; r++)
                for (int j = 0; j < n_frames; j++) {
                    double x = attn[((size_t)h * n_rows + r) * n_frames + j];
                    sum[(size_t)h * n_frames + j] += x;
                    sq[(size_t)h * n_frames + j] += x * x;
                }
        f = whisper_simul_frame_of_row(attn + (size_t)row * n_frames, (size_t)n_rows * n_frames, sum, sq, n_rows, n_heads,
                         n_frames, n_crop, z, avg);
    }
    free(sum);
    free(sq);
    free(z);
    free(avg);
    return f;
}
