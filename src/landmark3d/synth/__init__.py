"""The synthetic face generator: ICT FaceKit assets, sampler, renderer, writer."""
