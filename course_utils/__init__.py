"""Helpers for the VGGNet in PyTorch course: one small module per idea, each readable as a lesson.

Which notebook uses what (open the module to see how it is done). The notebook column is
computed from the notebooks' own imports by ``scripts/sync_notebooks.py``, and checked by the tests:

===================  ===========================================================  ========
module               idea                                                         notebook
===================  ===========================================================  ========
device               which device to run on, seeding, the environment report      00
weights              torchvision's weights enums, the hub cache, verified hashes  00, 03
prefetch             fetch every weights file before a workshop                   00
images               load any photo safely; the stretch transform; denormalise    00, 03
tables               a small HTML/text table for any notebook                     all
architecture         VGG configurations A-E and ``build_vgg`` (Table 1)           01, 02
layer_names          the paper's layer names <-> PyTorch's module names           01, 06, 07
counting             Table 1, parameters, multiply-adds and memory per layer      01
receptive_field      receptive fields by formula and measured by gradient         01
inference            run a model on images: batches, eval mode, top-k             03
dense                VGG as a fully convolutional network: dense evaluation       05
benchmark            timing that synchronises the device                          03, 09
data                 the procedural shapes dataset with masks                     04, 05, 07, 08
training             the training loop, History, resumable checkpoints            04, 05
small_vgg            the course's small VGG and its shipped checkpoint            04, 07, 08
checkpoints          atomic saves, ``weights_only=True`` loads                    04
features             feature maps with forward hooks                              06
viz                  the course's figures                                         all
widgets              the ipywidgets explorers                                     01, 06, 07
gradcam              CAM methods, one small module each                           07, 08
zoo                  VGG against later architectures                              09
distributed          data-parallel training with torchrun                         10
ddp_diagram          data parallelism as a picture: replicas and one all-reduce   10
torch_features       what the course needs from PyTorch, and whether it is there  00
exercises            the checks and solutions of every notebook's exercises       all
===================  ===========================================================  ========
"""
