"""Body model: the SMPL-X layer (real model file or the generated stand-in) used by the host part of BiDRN."""
