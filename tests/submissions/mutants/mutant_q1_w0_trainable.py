# expect-fail: q1.LoRALinear.trainable_parameters
class LoRALinear(nn.Module):
    def __init__(self, W0, k):
        super().__init__()
        m, l = W0.shape
        self.W0 = nn.Parameter(W0.clone())
        self.A = nn.Parameter(torch.randn(m, k, dtype=torch.float64) / k ** 0.5)
        self.B = nn.Parameter(torch.zeros(k, l, dtype=torch.float64))

    def forward(self, x):
        return x @ (self.W0 + self.A @ self.B).T
