# expect-fail: q7.kmeans_quantize.lloyd_fixed_point
# returns the initial linspace codebook: never moves the centroids to the means
def kmeans_quantize(W, bits, n_iter=20, generator=None):
    w = W.flatten().to(torch.float64)
    centroids = torch.linspace(float(w.min()), float(w.max()), 2 ** bits, dtype=torch.float64)
    labels = torch.argmin((w[:, None] - centroids[None, :]).abs(), dim=1)
    return centroids, labels.reshape(W.shape)
