# PyTorch's quickstart: the twin of examples/quickstart_mnist.rs (a small
# CNN, a hand-written loop, evaluation, save and reload), for comparing
# the two programs line by line.
import torch
from torch import nn
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

torch.manual_seed(0)
test_data = datasets.MNIST("data", train=False, download=True, transform=transforms.ToTensor())
train_loader = DataLoader(
    datasets.MNIST("data", train=True, download=True, transform=transforms.ToTensor()),
    batch_size=64,
    shuffle=True,
)
test_loader = DataLoader(test_data, batch_size=256)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(16 * 7 * 7, 10)

    def forward(self, x):
        x = self.pool(torch.relu(self.conv1(x)))
        x = self.pool(torch.relu(self.conv2(x)))
        return self.fc(torch.flatten(x, 1))


model = Net()
loss_fn = nn.CrossEntropyLoss()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

for epoch in range(3):
    model.train()
    for x, y in train_loader:
        loss = loss_fn(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    print(f"epoch {epoch}: loss {loss.item():.4f}")

model.eval()
correct = 0
with torch.no_grad():
    for x, y in test_loader:
        correct += (model(x).argmax(1) == y).sum().item()
accuracy = correct / len(test_data)
print(f"accuracy {accuracy:.3f}")

torch.save(model.state_dict(), "/tmp/quickstart.pth")
reloaded = Net()
reloaded.load_state_dict(torch.load("/tmp/quickstart.pth"))
reloaded.eval()
x, _ = next(iter(test_loader))
with torch.no_grad():
    same = torch.equal(model(x), reloaded(x))
print(f"reloaded model gives the same outputs: {same}")
assert same and accuracy > 0.9
