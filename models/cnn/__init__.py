"""Generators and training scripts for the CNN test models (digits CNNs, MobileNetV2, zoo-style nets)."""
