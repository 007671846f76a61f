# expect-fail: q7.kmeans_quantize.at_most_2_bits_centroids
# 2**bits + 1 centroids (an off-by-one in the codebook size)
def kmeans_quantize(W, bits, n_iter=20, generator=None):
    w = W.flatten().to(torch.float64)
    centroids = torch.linspace(float(w.min()), float(w.max()), 2 ** bits + 1, dtype=torch.float64)

    def nearest(c):
        return torch.argmin((w[:, None] - c[None, :]).abs(), dim=1)

    labels = nearest(centroids)
    for _ in range(n_iter):
        for j in range(centroids.numel()):
            members = labels == j
            if members.any():
                centroids[j] = w[members].mean()
        new_labels = nearest(centroids)
        if torch.equal(new_labels, labels):
            break
        labels = new_labels
    return centroids, labels.reshape(W.shape)
