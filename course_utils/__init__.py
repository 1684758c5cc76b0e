"""Helpers for the VGGNet in PyTorch course: one small module per idea, each readable as a lesson.

Which notebook uses what (open the module to see how it is done). The notebook column is
computed from the notebooks' own imports by ``scripts/sync_notebooks.py``, and checked by the tests:

===================  ===========================================================  ========
module               idea                                                         notebook
===================  ===========================================================  ========
device               which device to run on, seeding, the environment report      all
weights              torchvision's weights enums, the hub cache, verified hashes  00, 03, 04, 05, 08, 09, 10
prefetch             fetch every weights file before a workshop                   00
images               load any photo safely; the stretch transform; denormalise    00, 01, 03, 04, 05, 08, 09, 10
photo_chooser        choose a shipped photo, upload one or type its path          04, 09, 10
photo_folder         a folder of your photos, one sub-folder per class            08
tables               a small HTML/text table for any notebook                     02, 03
architecture         VGG configurations A-E and ``build_vgg`` (Table 1)           02, 03, 05, 06
layer_names          the paper's layer names <-> PyTorch's module names           06
counting             Table 1, parameters, multiply-adds and memory per layer      02, 03, 09, 11, 12
receptive_field      receptive fields by formula and measured by gradient         02
running              eval mode given back after, one image or a batch (plumbing)  (none)
inference            run a model on images: batches, eval mode, top-k             04, 05
dense                VGG as a fully convolutional network: dense evaluation       05
benchmark            timing that synchronises the device                          02, 05, 07, 08, 11
data                 the procedural shapes dataset with masks                     06, 07, 08, 11, 13
training             the training loop, History, resumable checkpoints            06, 07, 08, 13
evaluation           accuracy, predictions, confusion matrix, cached features     07, 08
small_vgg            the course's small VGG and its shipped checkpoint            06, 07, 11, 13
checkpoints          atomic saves, ``weights_only=True`` loads                    07, 13
features             feature maps with forward hooks                              09, 10
viz                  the course's figures                                         00, 02, 04, 06, 07, 08, 09, 10, 11, 13
widgets              the ipywidgets explorers                                     02, 09, 10
gradcam              CAM methods, one small module each                           10, 11
zoo                  VGG against later architectures                              12
explain              the command line: top-k and Grad-CAM for any photos          (none)
launch               torchrun from a notebook: the command, its output, cores     13
distributed          data-parallel training with torchrun                         13
ddp_diagram          data parallelism as a picture: replicas and one all-reduce   13
torch_features       what the course needs from PyTorch, and whether it is there  00
exercises            the checks and solutions of every notebook's exercises       all
===================  ===========================================================  ========
"""
