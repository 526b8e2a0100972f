# A dataset of your own through a DataLoader with workers into an MLP with
# BCEWithLogitsLoss: the twin of examples/two_moons.rs.
import math

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset


class TwoMoons(Dataset):
    def __init__(self, n, noise, seed):
        g = torch.Generator().manual_seed(seed)
        t = torch.rand(n, generator=g) * math.pi
        upper = torch.randint(0, 2, (n,), generator=g) == 0
        x = torch.where(upper, torch.cos(t), 1 - torch.cos(t))
        y = torch.where(upper, torch.sin(t), 0.5 - torch.sin(t))
        self.points = torch.stack([x, y], 1) + torch.randn(n, 2, generator=g) * noise
        self.labels = (~upper).float().unsqueeze(1)

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return self.points[i], self.labels[i]


torch.manual_seed(0)
train, test = TwoMoons(1000, 0.1, 0), TwoMoons(500, 0.1, 1)
loader = DataLoader(train, batch_size=32, shuffle=True, num_workers=2)
model = nn.Sequential(
    nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 1)
)
loss_fn = nn.BCEWithLogitsLoss()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
for _epoch in range(20):
    for x, y in loader:
        loss = loss_fn(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
with torch.no_grad():
    pred = model(test.points) > 0
accuracy = (pred == test.labels).float().mean().item()
print(f"test accuracy {accuracy:.3f}")
assert accuracy > 0.95
