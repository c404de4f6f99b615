"""PyTorch models the import tests build (``fixsim import torch FILE.py:Class``).

Three architectures of issue 12 (a Conv1D waveform classifier with BatchNorm, a
LeNet-style CNN with average pooling and softmax, an MLP with sigmoid) and hostile ones.
"""

import torch
from torch import nn
from torch.nn import functional as F


class WaveNet(nn.Module):
    """Conv1D waveform classifier: (2, 32) -> 3 classes; BatchNorm, dropout, global pool."""

    def __init__(self, channels: int = 8):
        super().__init__()
        self.conv1 = nn.Conv1d(2, channels, 5, padding=2)
        self.bn1 = nn.BatchNorm1d(channels)
        self.pool1 = nn.MaxPool1d(2, ceil_mode=True)
        self.conv2 = nn.Conv1d(channels, 4, 3)
        self.bn2 = nn.BatchNorm1d(4)
        self.drop = nn.Dropout(0.2)
        self.gap = nn.AdaptiveAvgPool1d(1)
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        x = self.pool1(F.relu(self.bn1(self.conv1(x))))
        x = F.leaky_relu(self.bn2(self.conv2(x)), 0.125)
        x = self.gap(self.drop(x))
        return self.fc(torch.flatten(x, 1))


class LeNet(nn.Module):
    """LeNet-style CNN: (1, 16, 16) -> softmax over 10; zero padding, average pools."""

    def __init__(self, pad: bool = True):
        super().__init__()
        # hls4ml's PyTorch converter has no ZeroPad2d (nor Identity): its variant is pad=False
        self.pad = nn.ZeroPad2d((1, 1, 2, 0)) if pad else None
        self.conv1 = nn.Conv2d(1, 4, 5, padding=1)
        self.act1 = nn.Tanh()
        self.pool1 = nn.AvgPool2d(2)
        self.conv2 = nn.Conv2d(4, 6, 3)
        self.pool2 = nn.AvgPool2d(2)
        self.fc1 = nn.Linear(6 * (3 if pad else 2) ** 2, 16)
        self.fc2 = nn.Linear(16, 10)
        self.softmax = nn.Softmax(dim=1)

    def forward(self, x):
        if self.pad is not None:
            x = self.pad(x)
        x = self.pool1(self.act1(self.conv1(x)))
        x = self.pool2(F.relu(self.conv2(x)))
        # hls4ml's converter knows torch.flatten but not x.size(): its variant flattens
        x = x.view(x.size(0), -1) if self.pad is not None else torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        return self.softmax(self.fc2(x))


class MLP(nn.Module):
    """MLP with sigmoids: 12 features -> 4 outputs."""

    def __init__(self, hidden: int = 16):
        super().__init__()
        self.fc1 = nn.Linear(12, hidden)
        self.act1 = nn.Sigmoid()
        self.fc2 = nn.Linear(hidden, 4)

    def forward(self, x):
        return torch.sigmoid(self.fc2(self.act1(self.fc1(x))))


class Unsupported(nn.Module):
    """A conv followed by an op fixsim has no layer for (abs)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)

    def forward(self, x):
        return torch.abs(self.conv(x))


class Residual(nn.Module):
    """A skip connection: not a chain of layers."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 8)

    def forward(self, x):
        return self.fc(x) + x


class ConvOnly(nn.Module):
    """A 1-D conv and relu: any length traces to the same ops (a dynamic export works)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(2, 2, 3)

    def forward(self, x):
        return F.relu(self.conv(x))
