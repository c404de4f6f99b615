// fixsim rtl: every layer template (include this one header).
#ifndef FIXSIM_LAYERS_H_
#define FIXSIM_LAYERS_H_

#include "fixsim_common.h"
#include "fixsim_input.h"
#include "fixsim_conv2d.h"
#include "fixsim_maxpool2d.h"
#include "fixsim_activation.h"
#include "fixsim_flatten.h"
#include "fixsim_dense.h"
#include "fixsim_conv1d.h"
#include "fixsim_maxpool1d.h"
#include "fixsim_zeropad.h"
#include "fixsim_avgpool.h"
#include "fixsim_batchnorm.h"
#include "fixsim_lut_activation.h"
#include "fixsim_softmax.h"
#include "fixsim_tap.h"

#endif  // FIXSIM_LAYERS_H_
