"""``ownnet.apps``: what is built on the framework — the ``ownnet`` command (``cli``), its training
recipes, the MNIST lab report, the speed benchmark, image input and the model server (``serve``)."""
