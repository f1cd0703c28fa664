"""Training with Keras: datasets as arrays, the input pipeline, models and their parts,
callbacks, tf.distribute, training, evaluation and the run's report."""
