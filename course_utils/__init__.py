"""Helpers for the VGGNet in PyTorch course."""
